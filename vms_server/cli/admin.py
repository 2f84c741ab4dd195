"""user add/list/disable/enable/reset-password/reset-mfa, licence show/import, audit verify."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common.auth.passwords import Passwords, generate_password
from vms_common.auth.roles import Role
from vms_common.errors import NotFound
from vms_server.audit.service import Actor, verify_chain
from vms_server.auth.models import User
from vms_server.auth.schemas import UserCreate, UserUpdate
from vms_server.auth.users import create_user, update_user
from vms_server.db.engine import create_engine, session_factory
from vms_server.db.migrate import check_current
from vms_server.licensing import service as licensing
from vms_server.org.models import Customer
from vms_server.security.keystore import load_master_secret
from vms_server.settings import Settings

logger = logging.getLogger(__name__)
CLI_ACTOR = Actor(None, "cli")


def register(sub: Any) -> None:
    user = sub.add_parser("user", help="manage users", description="Add, list and disable users.")
    users = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = users.add_parser("add", help="add a user", description="Add a user; the password is asked for "
                                                                 "unless --password is given.")
    add.add_argument("username")
    add.add_argument("--role", choices=[r.value for r in Role], required=True, help="what the user may do")
    add.add_argument("--password", help="password (default: asked on the terminal)")
    add.set_defaults(handler=user_add)
    users.add_parser("list", help="list users").set_defaults(handler=user_list)
    disable = users.add_parser("disable", help="disable a user (their sessions end at once)")
    disable.add_argument("username")
    disable.set_defaults(handler=user_disable)
    enable = users.add_parser("enable", help="enable a disabled user again (e.g. the only admin)")
    enable.add_argument("username")
    enable.set_defaults(handler=user_enable)
    reset = users.add_parser(
        "reset-password", help="set a new password for a locked-out user (ends their sessions)",
        description="Set a user's password from the server's shell, for an admin who cannot log in. Their "
                    "logins are revoked at once. Needs read access to the configured database (run as root or "
                    "as the service user).")
    reset.add_argument("username")
    given = reset.add_mutually_exclusive_group()
    given.add_argument("--password", help="the new password (default: asked on the terminal)")
    given.add_argument("--generate", action="store_true", help="generate a password and print it once")
    reset.set_defaults(handler=user_reset_password)
    mfa = users.add_parser(
        "reset-mfa", help="forget a user's authenticator so they enrol again (ends their sessions)",
        description="For a user who lost their authenticator app: their TOTP secret is deleted, their logins "
                    "are revoked, and their next login asks them to enrol a new authenticator.")
    mfa.add_argument("username")
    mfa.set_defaults(handler=user_reset_mfa)

    lic = sub.add_parser("license", aliases=["licence"], help="show or import the licence",
                         description="Show the licence in force, or import a signed licence file.")
    lics = lic.add_subparsers(dest="licence_command", required=True, metavar="ACTION")
    lics.add_parser("show", help="show the licence state and limits").set_defaults(handler=licence_show)
    imp = lics.add_parser("import", help="import a signed licence JSON file")
    imp.add_argument("file", type=Path)
    imp.set_defaults(handler=licence_import)

    audit = sub.add_parser("audit", help="audit log tools")
    audits = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    audits.add_parser("verify", help="check the hash chain; report the first broken row").set_defaults(
        handler=audit_verify)


@asynccontextmanager
async def _session(settings: Settings) -> AsyncIterator[AsyncSession]:
    engine = create_engine(settings.database_url)
    try:
        await check_current(engine)
        async with session_factory(engine).begin() as session:
            yield session
    finally:
        await engine.dispose()


async def _customer_id(session: AsyncSession) -> Any:
    customer = await session.scalar(select(Customer.id).limit(1))
    if customer is None:
        raise NotFound("no customer: run `vms-server init` first")
    return customer


async def user_add(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password or getpass.getpass(f"password for {args.username}: ")
    async with _session(settings) as session:
        user = await create_user(session, Passwords(settings.security.argon2), await _customer_id(session),
                                 UserCreate(username=args.username, password=password, role=Role(args.role)),
                                 CLI_ACTOR)
        print(f"added {user.username} ({user.role})")
    return 0


async def user_list(settings: Settings, args: argparse.Namespace) -> int:
    async with _session(settings) as session:
        users = (await session.scalars(select(User).order_by(User.username))).all()
        print(f"{'USERNAME':<24} {'ROLE':<11} {'STATE':<9} MFA")
        for u in users:
            state = "disabled" if u.disabled else "active"
            print(f"{u.username:<24} {u.role:<11} {state:<9} {'yes' if u.totp_enabled else 'no'}")
    return 0


async def user_disable(settings: Settings, args: argparse.Namespace) -> int:
    async with _session(settings) as session:
        user_id = await session.scalar(select(User.id).where(User.username == args.username))
        if user_id is None:
            raise NotFound(f"no user named {args.username}")
        await update_user(session, Passwords(settings.security.argon2), user_id, UserUpdate(disabled=True),
                          CLI_ACTOR)
        print(f"disabled {args.username}")
    return 0


async def user_enable(settings: Settings, args: argparse.Namespace) -> int:
    """Re-enabling revives no old session: disabling revoked them all."""
    async with _session(settings) as session:
        user_id = await _user_id(session, args.username)
        await update_user(session, Passwords(settings.security.argon2), user_id, UserUpdate(disabled=False),
                          CLI_ACTOR)
    print(f"enabled {args.username}")
    return 0


async def _user_id(session: AsyncSession, username: str) -> Any:
    user_id = await session.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        raise NotFound(f"no user named {username}")
    return user_id


async def user_reset_password(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password
    if args.generate:
        password = generate_password()
    elif password is None:
        password = getpass.getpass(f"new password for {args.username}: ")
        if password != getpass.getpass("again: "):
            print("error: the passwords differ", file=sys.stderr)
            return 2
    async with _session(settings) as session:
        user_id = await _user_id(session, args.username)
        # update_user revokes every login of the user, so whoever locked the admin out loses it too.
        await update_user(session, Passwords(settings.security.argon2), user_id, UserUpdate(password=password),
                          CLI_ACTOR)
    logger.info("password reset from the command line", extra={"username": args.username})
    print(f"password of {args.username} changed; their sessions were ended")
    if args.generate:
        print(f"new password (shown once, change it after logging in): {password}")
    return 0


async def user_reset_mfa(settings: Settings, args: argparse.Namespace) -> int:
    async with _session(settings) as session:
        user_id = await _user_id(session, args.username)
        await update_user(session, Passwords(settings.security.argon2), user_id, UserUpdate(reset_mfa=True),
                          CLI_ACTOR)
    logger.info("MFA reset from the command line", extra={"username": args.username})
    print(f"authenticator of {args.username} forgotten; the next login enrols a new one; "
          "their sessions were ended")
    return 0


def _licence_policy(settings: Settings) -> licensing.LicencePolicy:
    """The policy the running server applies: its server id comes from the installation key."""
    master = load_master_secret(settings.data_dir, settings.security.key_store)
    return licensing.LicencePolicy(settings.licensing, licensing.server_id_of(master))


async def licence_show(settings: Settings, args: argparse.Namespace) -> int:
    async with _session(settings) as session:
        status = await licensing.status(session, _licence_policy(settings))
    print(json.dumps(status.model_dump(mode="json"), indent=2))
    return 0


async def licence_import(settings: Settings, args: argparse.Namespace) -> int:
    try:
        document = args.file.read_text()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    async with _session(settings) as session:
        status = await licensing.import_licence(session, _licence_policy(settings), await _customer_id(session),
                                                document, CLI_ACTOR)
    print(f"imported: {status.message}; {status.max_cameras} cameras, until {status.valid_until}")
    return 0


async def audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    async with _session(settings) as session:
        report = await verify_chain(session)
    if report.first_broken_id is None:
        print(f"audit chain intact: {report.rows} entries")
        return 0
    print(f"audit chain BROKEN at entry {report.first_broken_id}: {report.reason} "
          f"({report.rows} entries verified before it)")
    return 3
