"""Resolving a rule's recipients into addresses for one channel kind. A recipient is a raw address (kept as
written), `user:<id>`, `group:<id>` (its members) or `oncall:<id>` (whoever the rota has on shift at that
moment, else its fallback). Each user brings the contact point the channel needs, the language the message is
worded in and the user's own quiet hours; a user without that contact point, or disabled, is skipped."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from vms_server.auth.models import User
from vms_server.notifications.directory_models import NotifyContact, NotifyGroup, NotifyOnCall
from vms_server.notifications.quiet import QuietHours, zone

logger = logging.getLogger(__name__)

PREFIXES = ("user", "group", "oncall")
# Which contact point a channel kind delivers to.
CONTACT_FIELD = {"email": "email", "sms": "phone", "whatsapp": "phone", "fcm": "fcm_token",
                 "webpush": "webpush_subscription"}


@dataclass(frozen=True, slots=True)
class Target:
    """One address to send to; `quiet`/`tz` are the user's own quiet hours (None for a raw address)."""

    address: str
    user_id: uuid.UUID | None = None
    language: str | None = None
    quiet: QuietHours | None = None
    tz: dt.tzinfo | None = None


def parse_ref(recipient: str) -> tuple[str, uuid.UUID] | None:
    """('user'|'group'|'oncall', id) for a reference, None for a raw address; ValueError for a reference
    whose id is not a UUID."""
    prefix, sep, rest = recipient.partition(":")
    if not sep or prefix not in PREFIXES:
        return None
    return prefix, uuid.UUID(rest)


def _minutes(value: str) -> int:
    t = dt.time.fromisoformat(value)
    return t.hour * 60 + t.minute


def on_shift(rota: NotifyOnCall, now: dt.datetime) -> list[uuid.UUID]:
    """The users the rota has on call at `now` (aware), in the rota's time zone; an overnight shift belongs
    to the day it starts on."""
    local = now.astimezone(zone(rota.timezone))
    minute = local.hour * 60 + local.minute
    today, yesterday = local.weekday(), (local.weekday() - 1) % 7
    found: list[uuid.UUID] = []
    for shift in rota.shifts:
        start, end = _minutes(str(shift["start"])), _minutes(str(shift["end"]))
        days = {int(d) for d in shift.get("days", range(7))}
        if end > start:
            inside = today in days and start <= minute < end
        else:  # overnight (or all day when start == end)
            inside = (today in days and minute >= start) or (yesterday in days and minute < end)
        if inside:
            found.append(uuid.UUID(str(shift["user_id"])))
    if not found and rota.fallback_user_id is not None:
        found.append(rota.fallback_user_id)
    return found


async def users_of(session: AsyncSession, customer_id: uuid.UUID, recipients: Iterable[str],
                   now: dt.datetime) -> tuple[list[str], list[uuid.UUID]]:
    """Raw addresses and the (deduplicated, ordered) user ids the references stand for at `now`."""
    raw: list[str] = []
    users: list[uuid.UUID] = []
    for recipient in recipients:
        try:
            ref = parse_ref(recipient)
        except ValueError:
            logger.warning("recipient %r is not a valid reference; skipped", recipient)
            continue
        if ref is None:
            raw.append(recipient)
            continue
        prefix, ref_id = ref
        if prefix == "user":
            users.append(ref_id)
        elif prefix == "group":
            group = await session.get(NotifyGroup, ref_id)
            if group is not None and group.customer_id == customer_id:
                users += [uuid.UUID(m) for m in group.members]
        else:
            rota = await session.get(NotifyOnCall, ref_id)
            if rota is not None and rota.customer_id == customer_id:
                users += on_shift(rota, now)
    return raw, list(dict.fromkeys(users))


def contact_quiet(contact: NotifyContact) -> QuietHours:
    return QuietHours(contact.quiet_enabled, dt.time.fromisoformat(contact.quiet_start),
                      dt.time.fromisoformat(contact.quiet_end), frozenset(contact.quiet_allow))


async def resolve(session: AsyncSession, customer_id: uuid.UUID, recipients: Iterable[str], kind: str,
                  now: dt.datetime) -> list[Target]:
    """The targets of `recipients` for a channel of `kind`, one per distinct address."""
    raw, user_ids = await users_of(session, customer_id, recipients, now)
    targets: dict[str, Target] = {r: Target(r) for r in raw}
    field = CONTACT_FIELD.get(kind)
    for user_id in user_ids:
        user = await session.get(User, user_id)
        contact = await session.get(NotifyContact, user_id)
        if user is None or user.disabled or user.customer_id != customer_id or contact is None:
            continue
        address: Any = getattr(contact, field) if field else None
        if not address:
            logger.debug("user %s has no %s contact point; skipped", user_id, kind)
            continue
        targets.setdefault(str(address), Target(str(address), user_id, contact.language, contact_quiet(contact),
                                                zone(contact.timezone) if contact.timezone else None))
    return list(targets.values())
