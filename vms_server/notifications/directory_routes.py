"""HTTP routes of the notification directory. Every user keeps their own contact points and language
(`/contacts/me`, so the client can register a push subscription); admins edit anyone's; supervisors, who
write the routing rules, keep the groups and on-call rotas those rules name."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_common.db.base import utcnow
from vms_common.errors import Conflict, InvalidInput, NotFound
from vms_server import keys
from vms_server.api.context import actor_of
from vms_server.audit.service import record
from vms_server.auth.models import User
from vms_server.notifications.directory import on_shift
from vms_server.notifications.directory_models import NotifyContact, NotifyGroup, NotifyOnCall
from vms_server.notifications.directory_schemas import (
    ContactIn,
    ContactList,
    ContactOut,
    GroupIn,
    GroupList,
    GroupOut,
    OnCallIn,
    OnCallList,
    OnCallNow,
    OnCallOut,
)
from vms_server.notifications.models import NotifyRule

router = ApiRouter()
TAGS = ["notifications"]
CONTACT_FIELDS = tuple(ContactIn.model_fields)


def contact_out(user: User, row: NotifyContact | None) -> ContactOut:
    values = {f: getattr(row, f) for f in CONTACT_FIELDS} if row is not None else {}
    return ContactOut.model_validate({**values, "user_id": user.id, "username": user.username,
                                      "updated_at": row.updated_at if row is not None else user.updated_at})


async def _user(session: AsyncSession, customer_id: uuid.UUID, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None or user.customer_id != customer_id:
        raise NotFound("no such user")
    return user


async def _check_users(session: AsyncSession, customer_id: uuid.UUID, ids: set[uuid.UUID]) -> None:
    found = set((await session.scalars(select(User.id).where(User.id.in_(ids), User.customer_id == customer_id)))
                .all())
    if ids - found:
        raise InvalidInput(f"unknown user(s): {', '.join(sorted(str(i) for i in ids - found))}")


async def _save_contact(call: Call[ContactIn], user_id: uuid.UUID) -> ContactOut:
    async with call.app[keys.SESSIONS].begin() as session:
        user = await _user(session, call.user.customer_id, user_id)
        row = await session.get(NotifyContact, user_id)
        if row is None:
            row = NotifyContact(user_id=user_id, customer_id=user.customer_id)
            session.add(row)
        for field in CONTACT_FIELDS:
            setattr(row, field, getattr(call.body, field))
        row.updated_at = utcnow()
        await session.flush()
        await record(session, actor_of(call), "notification_contact.updated", target_type="user", target_id=user_id,
                     new={"fields": sorted(f for f in CONTACT_FIELDS if getattr(call.body, f) is not None)})
        return contact_out(user, row)


@router.route("GET", "/notifications/contacts", role=Role.SUPERVISOR, response=ContactList, tags=TAGS)
async def list_contacts(call: Call[NoBody]) -> ContactList:
    """Every user of the organisation with their contact points (empty where none are set)."""
    async with call.app[keys.SESSIONS]() as session:
        users = (await session.scalars(select(User).where(User.customer_id == call.user.customer_id)
                                       .order_by(User.username))).all()
        rows = {r.user_id: r for r in (await session.scalars(select(NotifyContact).where(
            NotifyContact.customer_id == call.user.customer_id))).all()}
        return ContactList(items=[contact_out(u, rows.get(u.id)) for u in users])


@router.route("GET", "/notifications/contacts/me", role=Role.VIEWER, response=ContactOut, tags=TAGS)
async def my_contact(call: Call[NoBody]) -> ContactOut:
    """The caller's own contact points, language and quiet hours."""
    async with call.app[keys.SESSIONS]() as session:
        user = await _user(session, call.user.customer_id, call.user.user_id)
        return contact_out(user, await session.get(NotifyContact, user.id))


@router.route("PUT", "/notifications/contacts/me", role=Role.VIEWER, body=ContactIn, response=ContactOut,
              tags=TAGS, errors=(422,))
async def set_my_contact(call: Call[ContactIn]) -> ContactOut:
    """Set the caller's own contact points (the client registers its push subscription here)."""
    return await _save_contact(call, call.user.user_id)


@router.route("PUT", "/notifications/contacts/{user_id}", role=Role.ADMIN, every_site=True, body=ContactIn,
              response=ContactOut, tags=TAGS, errors=(404, 422))
async def set_contact(call: Call[ContactIn]) -> ContactOut:
    """Set a user's contact points, language and quiet hours."""
    return await _save_contact(call, call.path_uuid("user_id"))


@router.route("DELETE", "/notifications/contacts/{user_id}", role=Role.ADMIN, every_site=True, status=204,
              tags=TAGS, errors=(404,))
async def delete_contact(call: Call[NoBody]) -> None:
    """Forget a user's contact points: rules naming the user reach them no more."""
    async with call.app[keys.SESSIONS].begin() as session:
        row = await session.get(NotifyContact, call.path_uuid("user_id"))
        if row is None or row.customer_id != call.user.customer_id:
            raise NotFound("no contact points for this user")
        await session.delete(row)
        await record(session, actor_of(call), "notification_contact.deleted", target_type="user",
                     target_id=row.user_id)


async def _not_named(session: AsyncSession, customer_id: uuid.UUID, ref: str) -> None:
    """Refuse to delete what a rule (or one of its escalation levels) still sends to."""
    for rule in (await session.scalars(select(NotifyRule).where(NotifyRule.customer_id == customer_id))).all():
        named = set(rule.recipients) | {r for lvl in rule.escalation for r in lvl.get("recipients") or []}
        if ref in named:
            raise Conflict(f"rule {rule.name!r} still names {ref}")


def group_out(row: NotifyGroup) -> GroupOut:
    return GroupOut(id=row.id, name=row.name, members=[uuid.UUID(m) for m in row.members], ref=f"group:{row.id}")


async def _group(session: AsyncSession, call: Call[Any]) -> NotifyGroup:
    row = await session.get(NotifyGroup, call.path_uuid("group_id"))
    if row is None or row.customer_id != call.user.customer_id:
        raise NotFound("no such group")
    return row


async def _unique(session: AsyncSession, model: type[NotifyGroup] | type[NotifyOnCall], customer_id: uuid.UUID,
                  name: str, own_id: uuid.UUID | None) -> None:
    other = await session.scalar(select(model.id).where(model.customer_id == customer_id, model.name == name))
    if other is not None and other != own_id:
        raise Conflict(f"the name {name!r} is taken")


@router.route("GET", "/notifications/groups", role=Role.SUPERVISOR, response=GroupList, tags=TAGS)
async def list_groups(call: Call[NoBody]) -> GroupList:
    async with call.app[keys.SESSIONS]() as session:
        rows = (await session.scalars(select(NotifyGroup).where(
            NotifyGroup.customer_id == call.user.customer_id).order_by(NotifyGroup.name))).all()
        return GroupList(items=[group_out(r) for r in rows])


@router.route("POST", "/notifications/groups", role=Role.SUPERVISOR, body=GroupIn, response=GroupOut, status=201,
              tags=TAGS, errors=(409, 422))
async def create_group(call: Call[GroupIn]) -> GroupOut:
    """A named set of users; a rule names it `group:<id>` and reaches every member's contact point."""
    customer = call.user.customer_id
    async with call.app[keys.SESSIONS].begin() as session:
        await _check_users(session, customer, set(call.body.members))
        await _unique(session, NotifyGroup, customer, call.body.name, None)
        row = NotifyGroup(customer_id=customer, name=call.body.name,
                          members=[str(m) for m in dict.fromkeys(call.body.members)])
        session.add(row)
        await session.flush()
        await record(session, actor_of(call), "notification_group.created", target_type="notification_group",
                     target_id=row.id, new={"name": row.name, "members": len(row.members)})
        return group_out(row)


@router.route("PUT", "/notifications/groups/{group_id}", role=Role.SUPERVISOR, body=GroupIn, response=GroupOut,
              tags=TAGS, errors=(404, 409, 422))
async def replace_group(call: Call[GroupIn]) -> GroupOut:
    async with call.app[keys.SESSIONS].begin() as session:
        row = await _group(session, call)
        await _check_users(session, row.customer_id, set(call.body.members))
        await _unique(session, NotifyGroup, row.customer_id, call.body.name, row.id)
        row.name, row.members = call.body.name, [str(m) for m in dict.fromkeys(call.body.members)]
        await session.flush()
        await record(session, actor_of(call), "notification_group.updated", target_type="notification_group",
                     target_id=row.id, new={"name": row.name, "members": len(row.members)})
        return group_out(row)


@router.route("DELETE", "/notifications/groups/{group_id}", role=Role.SUPERVISOR, status=204, tags=TAGS,
              errors=(404, 409))
async def delete_group(call: Call[NoBody]) -> None:
    """Remove a group no rule names any more (409 names the rule that still does)."""
    async with call.app[keys.SESSIONS].begin() as session:
        row = await _group(session, call)
        await _not_named(session, row.customer_id, f"group:{row.id}")
        await session.delete(row)
        await record(session, actor_of(call), "notification_group.deleted", target_type="notification_group",
                     target_id=row.id, old={"name": row.name})


def oncall_out(row: NotifyOnCall) -> OnCallOut:
    return OnCallOut.model_validate({"id": row.id, "name": row.name, "timezone": row.timezone, "shifts": row.shifts,
                                     "fallback_user_id": row.fallback_user_id, "ref": f"oncall:{row.id}"})


async def _oncall(session: AsyncSession, call: Call[Any]) -> NotifyOnCall:
    row = await session.get(NotifyOnCall, call.path_uuid("oncall_id"))
    if row is None or row.customer_id != call.user.customer_id:
        raise NotFound("no such on-call schedule")
    return row


async def _apply_oncall(session: AsyncSession, row: NotifyOnCall, body: OnCallIn) -> None:
    users = {s.user_id for s in body.shifts} | ({body.fallback_user_id} if body.fallback_user_id else set())
    await _check_users(session, row.customer_id, users)
    await _unique(session, NotifyOnCall, row.customer_id, body.name, row.id)
    row.name, row.timezone, row.fallback_user_id = body.name, body.timezone, body.fallback_user_id
    row.shifts = [s.model_dump(mode="json") for s in body.shifts]


@router.route("GET", "/notifications/oncall", role=Role.SUPERVISOR, response=OnCallList, tags=TAGS)
async def list_oncall(call: Call[NoBody]) -> OnCallList:
    async with call.app[keys.SESSIONS]() as session:
        rows = (await session.scalars(select(NotifyOnCall).where(
            NotifyOnCall.customer_id == call.user.customer_id).order_by(NotifyOnCall.name))).all()
        return OnCallList(items=[oncall_out(r) for r in rows])


@router.route("POST", "/notifications/oncall", role=Role.SUPERVISOR, body=OnCallIn, response=OnCallOut,
              status=201, tags=TAGS, errors=(409, 422))
async def create_oncall(call: Call[OnCallIn]) -> OnCallOut:
    """An on-call rota; a rule names it `oncall:<id>` and reaches whoever is on shift when it sends."""
    async with call.app[keys.SESSIONS].begin() as session:
        row = NotifyOnCall(id=uuid.uuid4(), customer_id=call.user.customer_id)
        await _apply_oncall(session, row, call.body)
        session.add(row)
        await session.flush()
        await record(session, actor_of(call), "notification_oncall.created", target_type="notification_oncall",
                     target_id=row.id, new={"name": row.name, "shifts": len(row.shifts)})
        return oncall_out(row)


@router.route("PUT", "/notifications/oncall/{oncall_id}", role=Role.SUPERVISOR, body=OnCallIn,
              response=OnCallOut, tags=TAGS, errors=(404, 409, 422))
async def replace_oncall(call: Call[OnCallIn]) -> OnCallOut:
    async with call.app[keys.SESSIONS].begin() as session:
        row = await _oncall(session, call)
        await _apply_oncall(session, row, call.body)
        await session.flush()
        await record(session, actor_of(call), "notification_oncall.updated", target_type="notification_oncall",
                     target_id=row.id, new={"name": row.name, "shifts": len(row.shifts)})
        return oncall_out(row)


@router.route("DELETE", "/notifications/oncall/{oncall_id}", role=Role.SUPERVISOR, status=204, tags=TAGS,
              errors=(404, 409))
async def delete_oncall(call: Call[NoBody]) -> None:
    async with call.app[keys.SESSIONS].begin() as session:
        row = await _oncall(session, call)
        await _not_named(session, row.customer_id, f"oncall:{row.id}")
        await session.delete(row)
        await record(session, actor_of(call), "notification_oncall.deleted", target_type="notification_oncall",
                     target_id=row.id, old={"name": row.name})


@router.route("GET", "/notifications/oncall/{oncall_id}/now", role=Role.SUPERVISOR, response=OnCallNow,
              tags=TAGS, errors=(404,))
async def oncall_now(call: Call[NoBody]) -> OnCallNow:
    """Who the rota reaches if it sends now."""
    async with call.app[keys.SESSIONS]() as session:
        row = await _oncall(session, call)
        now = utcnow()
        return OnCallNow(at=now, user_ids=on_shift(row, now))
