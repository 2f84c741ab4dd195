"""ONVIF user handling (GetUsers, CreateUsers, DeleteUsers, SetUser) and the checks that let every
user of the list authenticate, by WS-Security UsernameToken or by HTTP Digest.

The user of the camera's configuration is a fixed user: it cannot be deleted or changed, so a client
cannot lock the simulator's operator (and the tests) out. Users live in the ONVIF context, so a
factory default or a simulator restart forgets the ones a client created. Access follows the ONVIF
user levels in a simplified form: a User may only read (Get* and event pulls), an Operator may also
change settings, and only an Administrator may manage users, reboot, reset or change the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from vms_camsim.config import AuthMode
from vms_camsim.onvif.soap import SeenNonces, SoapFault, check_username_token, child, invalid_arg, local, text
from vms_camsim.rtsp_proto import Authenticator, parse_auth_params

if TYPE_CHECKING:
    from vms_camsim.onvif.device_media import Handler, OnvifContext

LEVELS = ("Administrator", "Operator", "User")
MAX_USERS = 32
MAX_USERNAME = 32
MAX_PASSWORD = 64
MIN_PASSWORD = 4
_USERNAME = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces (a colon would break HTTP Basic)
ADMIN_ONLY = frozenset({"CreateUsers", "DeleteUsers", "SetUser", "SetSystemFactoryDefault", "SystemReboot",
                        "SetNetworkInterfaces", "SetNetworkProtocols"})
_READ_ONLY_EXTRA = frozenset({"CreatePullPointSubscription", "PullMessages", "Renew", "Unsubscribe",
                              "SetSynchronizationPoint"})


@dataclass
class User:
    """One account of the camera."""

    name: str
    password: str
    level: str


class UserStore:
    """The camera's accounts, the configured one first and fixed."""

    def __init__(self, fixed_name: str, fixed_password: str) -> None:
        self.fixed = User(fixed_name, fixed_password, "Administrator")
        self.users: dict[str, User] = {}
        self.reset()

    def reset(self) -> None:
        """Back to the configured user alone (factory default)."""
        self.users = {self.fixed.name: User(self.fixed.name, self.fixed.password, self.fixed.level)}

    def get(self, name: str | None) -> User | None:
        """The user called ``name``, if any."""
        return self.users.get(name or "")

    def check_token(self, header: Element | None, seen: SeenNonces, clock_offset_s: float) -> User | None:
        """The user whose WS-Security UsernameToken this header carries, when its digest is right."""
        user = self.get(text(child(header, "Security", "UsernameToken"), "Username"))
        if user is None or not check_username_token(header, user.name, user.password, seen, clock_offset_s):
            return None
        return user


class DigestUsers(Authenticator):
    """HTTP Digest against every user of the store (one realm and one nonce secret for all)."""

    def __init__(self, realm: str, users: UserStore, refuse: bool) -> None:
        super().__init__(realm, users.fixed.name, users.fixed.password, AuthMode.DIGEST, refuse)
        self.users = users

    def user_of(self, method: str, header: str | None) -> User | None:
        """The user a Digest Authorization header proves to be, or None."""
        scheme, _, value = (header or "").partition(" ")
        user = self.users.get(parse_auth_params(value).get("username")) if scheme.lower() == "digest" else None
        if user is None:
            return None
        # Synchronous from here to the end of check(): no other request can run in between.
        self.username, self.password = user.name, user.password
        return user if self.check(method, header) else None


def allowed(user: User, operation: str) -> bool:
    """Whether a user's level lets it call ``operation``."""
    if user.level == "Administrator":
        return True
    if operation in ADMIN_ONLY:
        return False
    return user.level == "Operator" or operation.startswith("Get") or operation in _READ_ONLY_EXTRA


def _prohibited(subcode: str, reason: str) -> SoapFault:
    return SoapFault("Sender", ("ter:OperationProhibited", f"ter:{subcode}"), reason)


def _read_users(op: Element) -> list[User]:
    """The tt:User items of a request, checked (raises the ONVIF fault of the first bad one)."""
    users = []
    for item in (c for c in op if local(c.tag) == "User"):
        name, password, level = text(item, "Username") or "", text(item, "Password"), text(item, "UserLevel")
        if not name:
            raise _prohibited("UsernameTooShort", "a user name is required")
        if len(name) > MAX_USERNAME:
            raise _prohibited("UsernameTooLong", f"user names have at most {MAX_USERNAME} characters")
        if not _USERNAME.match(name):
            raise invalid_arg("InvalidArgs", "a user name is printable ASCII without spaces")
        if level == "Anonymous":
            raise _prohibited("AnonymousNotAllowed", "anonymous users are not allowed")
        if level not in LEVELS:
            raise invalid_arg("InvalidArgs", f"UserLevel {level!r} is not one of {', '.join(LEVELS)}")
        if password is not None and len(password) > MAX_PASSWORD:
            raise _prohibited("PasswordTooLong", f"passwords have at most {MAX_PASSWORD} characters")
        if password is not None and len(password) < MIN_PASSWORD:
            raise _prohibited("PasswordTooWeak", f"passwords have at least {MIN_PASSWORD} characters")
        users.append(User(name, password or "", level))
    if not users:
        raise invalid_arg("InvalidArgs", "no User given")
    if len({u.name for u in users}) != len(users):
        raise _prohibited("UsernameClash", "the same user name twice")
    return users


def get_users(ctx: OnvifContext, op: Element) -> str:
    """Every account with its level (passwords are never returned)."""
    items = "".join(f"<tds:User><tt:Username>{escape(u.name)}</tt:Username><tt:UserLevel>{u.level}</tt:UserLevel>"
                    "</tds:User>" for u in ctx.users.users.values())
    return f"<tds:GetUsersResponse>{items}</tds:GetUsersResponse>"


def create_users(ctx: OnvifContext, op: Element) -> str:
    """Add accounts, all or none. Raises ter:UsernameClash, ter:TooManyUsers and the checks' faults."""
    new = _read_users(op)
    if any(ctx.users.get(u.name) for u in new):
        raise _prohibited("UsernameClash", "a user of that name exists")
    if any(not u.password for u in new):
        raise _prohibited("PasswordTooWeak", "a new user needs a password")
    if len(ctx.users.users) + len(new) > MAX_USERS:
        raise SoapFault("Receiver", ("ter:Action", "ter:TooManyUsers"), f"at most {MAX_USERS} users", 500)
    for user in new:
        ctx.users.users[user.name] = user
    return "<tds:CreateUsersResponse/>"


def _check_existing(ctx: OnvifContext, names: list[str]) -> None:
    for name in names:
        if ctx.users.get(name) is None:
            raise invalid_arg("UsernameMissing", f"no user {name!r}")
        if name == ctx.users.fixed.name:
            raise invalid_arg("FixedUser", f"{name!r} is the camera's fixed user")


def delete_users(ctx: OnvifContext, op: Element) -> str:
    """Remove accounts, all or none; they can no longer authenticate. Raises ter:UsernameMissing, ter:FixedUser."""
    names = [(c.text or "").strip() for c in op if local(c.tag) == "Username"]
    if not names:
        raise invalid_arg("InvalidArgs", "no Username given")
    _check_existing(ctx, names)
    for name in names:
        ctx.users.users.pop(name, None)
    return "<tds:DeleteUsersResponse/>"


def set_user(ctx: OnvifContext, op: Element) -> str:
    """Change accounts' passwords and levels, all or none (a missing password keeps the old one)."""
    changes = _read_users(op)
    _check_existing(ctx, [u.name for u in changes])
    for change in changes:
        user = ctx.users.users[change.name]
        user.level, user.password = change.level, change.password or user.password
    return "<tds:SetUserResponse/>"


USER_OPS: dict[str, Handler] = {
    "GetUsers": get_users, "CreateUsers": create_users, "DeleteUsers": delete_users, "SetUser": set_user,
}
