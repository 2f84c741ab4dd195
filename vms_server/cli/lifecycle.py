"""init, migrate, run."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.engine import make_url

from vms_common import __version__
from vms_common.auth.passwords import Passwords, check_strength, generate_password
from vms_common.auth.roles import Role
from vms_common.logsetup import configure_logging
from vms_common.tls import TlsError, ensure_certificate, server_context
from vms_server.audit.service import SYSTEM, record
from vms_server.auth.models import User
from vms_server.auth.schemas import UserCreate
from vms_server.auth.users import create_user
from vms_server.db.engine import create_engine, session_factory
from vms_server.db.migrate import current_revision, head_revision, upgrade
from vms_server.org.models import Customer, Site
from vms_server.security.keystore import SECRET_FILE, create_master_secret
from vms_server.settings import Settings

logger = logging.getLogger(__name__)


def register(sub: Any) -> None:
    init = sub.add_parser("init", help="create the data directory, database, secret key and first admin",
                          description="Create a new installation. Prints the admin password once if generated.")
    init.add_argument("--admin", default="admin", help="username of the first admin (default: admin)")
    init.add_argument("--password", help="password of the first admin (default: $VMS_ADMIN_PASSWORD, "
                                         "else a generated one, printed once)")
    init.add_argument("--customer", default="My organisation", help="customer (organisation) name")
    init.add_argument("--site", default="Main site", help="name of the first site")
    init.add_argument("--exist-ok", action="store_true", help="succeed quietly if already initialised")
    init.set_defaults(handler=init_command)
    migrate = sub.add_parser("migrate", help="upgrade the database schema to this version",
                             description="Apply pending database migrations (safe to run repeatedly).")
    migrate.set_defaults(handler=migrate_command)
    run = sub.add_parser("run", help="run the server (Ctrl-C or SIGTERM stops it gracefully)",
                         description="Serve the API until stopped.")
    run.add_argument("--host", help="listen address (default: server.host)")
    run.add_argument("--port", type=int, help="listen port (default: server.port)")
    run.add_argument("--simulate", type=int, default=0, metavar="N",
                     help="also serve N simulated cameras from this process and register them (demo, tests)")
    run.set_defaults(handler=None, sync=True)


async def migrate_command(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database_url)
    try:
        before = await current_revision(engine)
        await upgrade(engine)
        print(f"database at {head_revision()} (was {before or 'empty'})")
    finally:
        await engine.dispose()
    return 0


async def init_command(settings: Settings, args: argparse.Namespace) -> int:
    data_dir = settings.data_dir
    initialised = (data_dir / SECRET_FILE).exists() if settings.security.key_store == "file" else False
    password = args.password or os.environ.get("VMS_ADMIN_PASSWORD")
    if password and (problem := check_strength(password)):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not initialised:
        create_master_secret(data_dir, settings.security.key_store)
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        async with sessions.begin() as session:
            if await session.scalar(select(User.id).limit(1)) is not None:
                if args.exist_ok:
                    print(f"already initialised: {data_dir}")
                    return 0
                print(f"error: {data_dir} is already initialised (users exist); use `vms-server user add`",
                      file=sys.stderr)
                return 1
            customer = Customer(name=args.customer)
            session.add(customer)
            await session.flush()
            session.add(Site(customer_id=customer.id, name=args.site))
            generated = password is None
            password = password or generate_password()
            await create_user(session, Passwords(settings.security.argon2), customer.id,
                              UserCreate(username=args.admin, password=password, role=Role.ADMIN), SYSTEM)
            await record(session, SYSTEM, "system.initialised", new={"data_dir": str(data_dir)})
    finally:
        await engine.dispose()
    print(f"initialised {data_dir}")
    try:
        if tls_fingerprint := ensure_certificate(settings.server.tls, data_dir):
            print(f"TLS certificate SHA-256 fingerprint (compare on first client login): {tls_fingerprint}")
    except TlsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"admin user: {args.admin}")
    if generated:
        print(f"admin password (shown once, change it after first login): {password}")
    if settings.security.mfa_required:
        print("the first login asks the admin to enrol an authenticator app (TOTP)")
    return 0


def _log_listening(message: str) -> None:
    """aiohttp reports the sites it bound through `print` once they listen: turn that into a log line with the
    URL(s), so journald shows where the API answers (and only once it really does)."""
    urls = message.split("Running on ", 1)[-1].split(" =", 1)[0].strip()
    logger.info("listening on %s", urls, extra={"urls": urls})


def run_server(settings: Settings, args: argparse.Namespace) -> int:
    from vms_server.app import create_app

    configure_logging(settings.logging.level, settings.logging.format)
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    # The LAN announcement and the landing page read the address from the settings: give them the one in use.
    settings = settings.model_copy(update={"server": settings.server.model_copy(update={"host": host, "port": port})})
    database = make_url(settings.database_url).get_backend_name()  # the name only: the URL may hold a password
    logger.info("starting version %s on %s:%d", __version__, host, port,
                extra={"data_dir": str(settings.data_dir), "database": database})
    sources = []
    if args.simulate:
        if not 0 < args.simulate <= 64:
            print("error: --simulate takes 1 to 64 cameras", file=sys.stderr)
            return 2
        from vms_server.cli.demo import simulated_cameras

        sources.append(simulated_cameras(args.simulate))
    try:  # before building the app: a bad certificate is a clear error, not a half-started server
        ssl_context = server_context(settings.server.tls, settings.data_dir)
    except TlsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if ssl_context is not None:
        logger.info("TLS certificate SHA-256 fingerprint %s",
                    ensure_certificate(settings.server.tls, settings.data_dir))
    app = create_app(settings, camera_sources=sources)
    web.run_app(app, host=host, port=port, access_log=None, print=_log_listening, ssl_context=ssl_context,
                shutdown_timeout=settings.server.shutdown_timeout)
    logger.info("stopped")
    return 0
