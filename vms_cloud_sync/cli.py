"""`vms-cloud`: set up, migrate and run the cloud backend; manage tenants, users, operators, licences."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import re
import sys
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from vms_cloud_sync.backend import licences, operator_mfa, tenancy
from vms_cloud_sync.backend.db import scoped
from vms_cloud_sync.backend.migrate import CloudMigrationError, upgrade
from vms_cloud_sync.backend.models import Tenant
from vms_cloud_sync.backend.settings import CloudSettings, CloudSettingsError, load_cloud_settings
from vms_cloud_sync.protocol.licence import SERVER_ID_PATTERN
from vms_common import __version__
from vms_common.auth.passwords import Passwords
from vms_common.errors import VmsError
from vms_common.tls import TlsError, ensure_certificate, server_context

Command = Callable[[CloudSettings, argparse.Namespace], Coroutine[Any, Any, int]]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vms-cloud", description="VMS multi-tenant cloud backend.",
                                     epilog="configuration: --config FILE (TOML) and VMS_CLOUD_* variables, e.g. "
                                            "VMS_CLOUD_DATABASE__URL, VMS_CLOUD_DATABASE__ADMIN_URL")
    parser.add_argument("--version", action="version", version=f"vms-cloud {__version__}")
    parser.add_argument("--config", type=Path, default=os.environ.get("VMS_CLOUD_CONFIG"), help="TOML file")
    parser.add_argument("--data-dir", type=Path, help="data directory (secrets, signing key, clips)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    init = sub.add_parser("init", help="create the schema and set the application role's password")
    init.add_argument("--app-password", help="password of the application role (default: asked)")
    init.set_defaults(handler=init_command)
    sub.add_parser("migrate", help="upgrade the schema").set_defaults(handler=migrate_command)
    sub.add_parser("run", help="serve the API and portal").set_defaults(handler=None)
    tls = sub.add_parser("tls", help="the backend's TLS certificate").add_subparsers(dest="tls_command",
                                                                                     required=True)
    tls.add_parser("fingerprint", help="print the certificate's SHA-256 fingerprint (edges pin it)").set_defaults(
        handler=tls_fingerprint)
    tenant = sub.add_parser("tenant", help="tenants").add_subparsers(dest="tenant_command", required=True)
    add = tenant.add_parser("add", help="add a tenant")
    add.add_argument("slug")
    add.add_argument("name")
    add.set_defaults(handler=tenant_add)
    tenant.add_parser("list", help="list tenants").set_defaults(handler=tenant_list)
    user = sub.add_parser("user", help="HQ users").add_subparsers(dest="user_command", required=True)
    uadd = user.add_parser("add", help="add an HQ user to a tenant")
    uadd.add_argument("slug")
    uadd.add_argument("username")
    uadd.add_argument("--role", choices=["tenant_admin", "analyst", "viewer"], required=True)
    uadd.add_argument("--password")
    uadd.set_defaults(handler=user_add)
    op = sub.add_parser("operator", help="platform operators").add_subparsers(dest="op_command", required=True)
    oadd = op.add_parser("add", help="add a platform operator")
    oadd.add_argument("username")
    oadd.add_argument("--password")
    oadd.set_defaults(handler=operator_add)
    oreset = op.add_parser("mfa-reset", help="clear an operator's TOTP key (lost authenticator); the next login "
                                             "needs only the password, then MFA can be set up again")
    oreset.add_argument("username")
    oreset.set_defaults(handler=operator_mfa_reset)
    lic = sub.add_parser("licence", help="licence signing").add_subparsers(dest="lic_command", required=True)
    keygen = lic.add_parser("keygen", help="create the Ed25519 signing key; prints the public key")
    keygen.add_argument("--force", action="store_true", help="replace an existing key")
    keygen.set_defaults(handler=licence_keygen)
    issue = lic.add_parser("issue", help="sign a licence for a tenant; edges pull it")
    issue.add_argument("slug")
    issue.add_argument("--cameras", type=int, required=True)
    issue.add_argument("--analytics", default="", help="comma-separated analytics names")
    issue.add_argument("--days", type=int, default=365)
    issue.add_argument("--grace-days", type=int, default=14)
    issue.add_argument("--server-id", action="append", default=[], dest="server_ids", metavar="ID",
                       help="bind the licence to this server (repeat for several; `vms-server licence show` prints "
                            "a server's id); without it the licence is good on any server of the tenant")
    issue.set_defaults(handler=licence_issue)
    return parser


def _password(given: str | None, prompt: str) -> str:
    return given if given is not None else getpass.getpass(prompt)


async def init_command(settings: CloudSettings, args: argparse.Namespace) -> int:
    await upgrade(settings.database.admin_url, settings.database.app_role)
    password = _password(args.app_password, f"password for database role {settings.database.app_role}: ")
    engine = create_async_engine(settings.database.admin_url)
    try:
        async with engine.begin() as conn:
            quoted = password.replace("'", "''")
            await conn.execute(text(f"ALTER ROLE {settings.database.app_role} LOGIN PASSWORD '{quoted}'"))
    finally:
        await engine.dispose()
    print(f"schema ready; the service connects as {settings.database.app_role} (database.url)")
    if pin := ensure_certificate(settings.server.tls, settings.data_dir):
        print(f"TLS certificate SHA-256 fingerprint (edges pin it: vms-server sync enrol --fingerprint): {pin}")
    return 0


async def migrate_command(settings: CloudSettings, args: argparse.Namespace) -> int:
    await upgrade(settings.database.admin_url, settings.database.app_role)
    print("schema is current")
    return 0


async def _with_sessions(settings: CloudSettings, work: Callable[[async_sessionmaker[Any]], Coroutine[Any, Any, int]],
                         ) -> int:
    engine = create_async_engine(settings.database.url)
    try:
        return await work(async_sessionmaker(engine, expire_on_commit=False))
    finally:
        await engine.dispose()


async def _tenant_id(sessions: async_sessionmaker[Any], slug: str) -> uuid.UUID:
    async with scoped(sessions, None, platform=True) as session:
        found = await session.scalar(select(Tenant.id).where(Tenant.slug == slug))
    if found is None:
        raise CloudSettingsError(f"no tenant '{slug}'")
    return uuid.UUID(str(found))


async def tenant_add(settings: CloudSettings, args: argparse.Namespace) -> int:
    async def work(sessions: async_sessionmaker[Any]) -> int:
        async with scoped(sessions, None, platform=True) as session:
            t = await tenancy.create_tenant(session, args.slug, args.name)
            print(json.dumps({"id": str(t.id), "slug": t.slug, "name": t.name}))
        return 0
    return await _with_sessions(settings, work)


async def tenant_list(settings: CloudSettings, args: argparse.Namespace) -> int:
    async def work(sessions: async_sessionmaker[Any]) -> int:
        async with scoped(sessions, None, platform=True) as session:
            for t in (await session.scalars(select(Tenant).order_by(Tenant.slug))).all():
                print(f"{t.slug}\t{t.id}\t{t.name}")
        return 0
    return await _with_sessions(settings, work)


async def user_add(settings: CloudSettings, args: argparse.Namespace) -> int:
    password = _password(args.password, f"password for {args.username}: ")

    async def work(sessions: async_sessionmaker[Any]) -> int:
        tenant_id = await _tenant_id(sessions, args.slug)
        async with scoped(sessions, tenant_id) as session:
            u = await tenancy.create_user(session, Passwords(settings.argon2), tenant_id, args.username, password,
                                          args.role)
            print(json.dumps({"id": str(u.id), "tenant_id": str(tenant_id), "username": u.username}))
        return 0
    return await _with_sessions(settings, work)


async def operator_add(settings: CloudSettings, args: argparse.Namespace) -> int:
    password = _password(args.password, f"password for {args.username}: ")

    async def work(sessions: async_sessionmaker[Any]) -> int:
        async with scoped(sessions, None, platform=True) as session:
            op = await tenancy.create_operator(session, Passwords(settings.argon2), args.username, password)
            print(json.dumps({"id": str(op.id), "username": op.username}))
        return 0
    return await _with_sessions(settings, work)


async def operator_mfa_reset(settings: CloudSettings, args: argparse.Namespace) -> int:
    async def work(sessions: async_sessionmaker[Any]) -> int:
        async with scoped(sessions, None, platform=True) as session:
            if not await operator_mfa.reset(session, args.username):
                print(f"no operator '{args.username}'", file=sys.stderr)
                return 1
        print(json.dumps({"username": args.username, "mfa": "reset"}))
        return 0
    return await _with_sessions(settings, work)


async def licence_keygen(settings: CloudSettings, args: argparse.Namespace) -> int:
    try:
        public = licences.generate_signing_key(settings.data_dir, overwrite=args.force)
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"public key (put it in the servers' licensing.public_keys): {public}")
    return 0


async def licence_issue(settings: CloudSettings, args: argparse.Namespace) -> int:
    key = licences.load_signing_key(settings.data_dir)
    analytics = [a.strip() for a in args.analytics.split(",") if a.strip()]
    wrong = [s for s in args.server_ids if not re.fullmatch(SERVER_ID_PATTERN, s)]
    if wrong:
        print(f"error: {', '.join(wrong)} is not a server id (srv- and 20 hex digits, as `vms-server licence show` "
              "prints it)", file=sys.stderr)
        return 2

    async def work(sessions: async_sessionmaker[Any]) -> int:
        tenant_id = await _tenant_id(sessions, args.slug)
        async with scoped(sessions, tenant_id, platform=True) as session:
            row = await licences.issue(session, key, tenant_id, args.cameras, analytics, args.days,
                                       args.grace_days, "cli", args.server_ids)
            print(row.document)
        return 0
    return await _with_sessions(settings, work)


def run(settings: CloudSettings) -> int:
    from aiohttp import web

    from vms_cloud_sync.backend.app import create_cloud_app

    context = server_context(settings.server.tls, settings.data_dir)  # TlsError names the file before listening
    where = f"{'https' if context else 'http'}://{settings.server.host}:{settings.server.port}"
    pin = ensure_certificate(settings.server.tls, settings.data_dir)
    web.run_app(create_cloud_app(settings), host=settings.server.host, port=settings.server.port,
                ssl_context=context, print=lambda _: print(f"vms-cloud listening on {where}"
                                                           + (f" (certificate SHA-256 {pin})" if pin else "")))
    return 0


async def tls_fingerprint(settings: CloudSettings, args: argparse.Namespace) -> int:
    """What edges pin when the backend serves its own self-signed certificate (`vms-server cloud enrol
    --fingerprint`); the certificate is made here if it does not exist yet."""
    pin = ensure_certificate(settings.server.tls, settings.data_dir)
    if pin is None:
        print("error: server.tls.mode is off: the backend serves plain HTTP", file=sys.stderr)
        return 2
    print(pin)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    try:
        settings = load_cloud_settings(args.config, **overrides)
        if args.command == "run":
            return run(settings)
        handler: Command = args.handler
        return asyncio.run(handler(settings, args))
    except (CloudSettingsError, CloudMigrationError, TlsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except VmsError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
