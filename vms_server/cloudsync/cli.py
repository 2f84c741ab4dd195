"""`vms-server sync on|off|pause|status|enrol`: the same switch as PUT /api/v1/sync, from the shell.

A running server notices a mode change at its next poll (a few seconds)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from vms_cloud_sync.protocol.sync import EnrolIn
from vms_common import __version__
from vms_common.errors import InvalidInput, NotReady
from vms_common.tls import TlsError, normalise_pin
from vms_server.audit.service import Actor
from vms_server.cloudsync import client, service
from vms_server.cloudsync.schemas import Mode
from vms_server.db.engine import create_engine, session_factory
from vms_server.db.migrate import check_current
from vms_server.security.keystore import SecretBox, load_master_secret
from vms_server.settings import Settings

CLI_ACTOR = Actor(None, "cli")
MODES: dict[str, Mode] = {"on": "on", "off": "off", "pause": "paused"}


def register(sub: Any) -> None:
    parser = sub.add_parser("sync", help="cloud sync: on, off, pause, status, enrol",
                            description="Switch the cloud sync agent and show its state.")
    actions = parser.add_subparsers(dest="sync_command", required=True, metavar="ACTION")
    for name, text in (("on", "queue and push to the cloud"), ("off", "stop; nothing is queued"),
                       ("pause", "keep queuing, stop pushing")):
        actions.add_parser(name, help=text).set_defaults(handler=sync_mode, sync_mode=MODES[name])
    actions.add_parser("status", help="show mode, backlog, lag and last error").set_defaults(handler=sync_status)
    enrol = actions.add_parser("enrol", help="redeem a one-time enrolment token from HQ")
    enrol.add_argument("cloud_url", help="cloud backend base URL, e.g. https://cloud.example.com")
    enrol.add_argument("token", help="the one-time enrolment token")
    enrol.add_argument("--name", default="edge", help="how this server appears at HQ")
    enrol.add_argument("--fingerprint", help="SHA-256 fingerprint of a self-signed backend's certificate "
                                             "(`vms-cloud tls fingerprint` prints it); only that certificate is "
                                             "accepted")
    enrol.set_defaults(handler=sync_enrol)


async def _run(settings: Settings, action: Any) -> int:
    engine = create_engine(settings.database_url)
    try:
        await check_current(engine)
        async with session_factory(engine).begin() as session:
            status = await action(session)
    finally:
        await engine.dispose()
    print(json.dumps(status.model_dump(mode="json"), indent=2))
    return 0


async def sync_mode(settings: Settings, args: argparse.Namespace) -> int:
    return await _run(settings, lambda session: service.set_mode(session, args.sync_mode, CLI_ACTOR))


async def sync_status(settings: Settings, args: argparse.Namespace) -> int:
    return await _run(settings, service.status)


async def sync_enrol(settings: Settings, args: argparse.Namespace) -> int:
    try:
        pin = normalise_pin(args.fingerprint) if args.fingerprint else None
    except TlsError as exc:
        raise InvalidInput(str(exc)) from None
    try:
        out = await client.enrol(args.cloud_url, EnrolIn(token=args.token, name=args.name, version=__version__),
                                 pin)
    except client.CloudUnavailable as exc:
        raise NotReady(f"cloud not reachable: {exc}") from None
    except client.CloudRefused as exc:
        raise InvalidInput(f"enrolment refused: {exc}") from None
    box = SecretBox(load_master_secret(settings.data_dir, settings.security.key_store))
    return await _run(settings, lambda session: service.store_enrolment(
        session, box, args.cloud_url, str(out.edge_id), out.credential, CLI_ACTOR, pin))
