"""HTTP routes for /notifications: admins configure channels (they hold secrets), supervisors write routing
rules and look after the delivery queue (dead letters, retries, escalations)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_common.errors import Conflict, InvalidInput, NotFound
from vms_server import keys
from vms_server.api.context import actor_of
from vms_server.audit.service import record
from vms_server.auth.models import User
from vms_server.cameras.models import Camera
from vms_server.notifications import channels as registry
from vms_server.notifications import queue
from vms_server.notifications.directory import parse_ref
from vms_server.notifications.directory_models import NotifyGroup, NotifyOnCall
from vms_server.notifications.keys import NOTIFIER
from vms_server.notifications.models import NotifyChannel, NotifyEscalation, NotifyMessage, NotifyRule
from vms_server.notifications.schemas import (
    ChannelIn,
    ChannelList,
    ChannelOut,
    ChannelPatch,
    EscalationList,
    EscalationOut,
    MessageList,
    MessageOut,
    MessageQuery,
    RuleIn,
    RuleList,
    RuleOut,
    TestIn,
)
from vms_server.org.models import Site

router = ApiRouter()
TAGS = ["notifications"]


def channel_out(row: NotifyChannel) -> ChannelOut:
    return ChannelOut(id=row.id, name=row.name, kind=row.kind, enabled=row.enabled, config=row.config,
                      has_secret=bool(row.secret_sealed), created_at=row.created_at, updated_at=row.updated_at)


def rule_out(row: NotifyRule) -> RuleOut:
    return RuleOut.model_validate({
        "id": row.id, "name": row.name, "enabled": row.enabled, "event_types": row.event_types,
        "priorities": row.priorities, "site_id": row.site_id, "camera_id": row.camera_id,
        "channel_ids": row.channel_ids, "recipients": row.recipients, "group_window_s": row.group_window_s,
        "escalation": row.escalation, "created_at": row.created_at, "updated_at": row.updated_at})


def message_out(row: NotifyMessage) -> MessageOut:
    return MessageOut.model_validate(row, from_attributes=True)


def _config(kind: str, config: dict[str, object]) -> dict[str, object]:
    try:
        return registry.validate_config(kind, config)
    except registry.ChannelConfigError as exc:
        raise InvalidInput(str(exc)) from None


async def _channel(session: AsyncSession, call: Call[Any]) -> NotifyChannel:
    row = await session.get(NotifyChannel, call.path_uuid("channel_id"))
    if row is None or row.customer_id != call.user.customer_id:
        raise NotFound("no such channel")
    return row


@router.route("GET", "/notifications/channels", role=Role.SUPERVISOR, response=ChannelList, tags=TAGS)
async def list_channels(call: Call[NoBody]) -> ChannelList:
    """The organisation's channels; secrets are never returned (`has_secret` says whether one is set)."""
    async with call.app[keys.SESSIONS]() as session:
        rows = (await session.scalars(select(NotifyChannel).where(
            NotifyChannel.customer_id == call.user.customer_id).order_by(NotifyChannel.name))).all()
        return ChannelList(items=[channel_out(r) for r in rows])


@router.route("POST", "/notifications/channels", role=Role.ADMIN, every_site=True,
              body=ChannelIn, response=ChannelOut, status=201,
              tags=TAGS, errors=(422,))
async def create_channel(call: Call[ChannelIn]) -> ChannelOut:
    """Add a channel; its configuration is checked against the kind, its secret sealed."""
    body = call.body
    config = _config(body.kind, body.config)
    box = call.app[keys.SECRET_BOX]
    async with call.app[keys.SESSIONS].begin() as session:
        row = NotifyChannel(customer_id=call.user.customer_id, name=body.name, kind=body.kind, enabled=body.enabled,
                            config=config, secret_sealed=box.seal(body.secret) if body.secret else None)
        session.add(row)
        await session.flush()
        await record(session, actor_of(call), "notification_channel.created", target_type="notification_channel",
                     target_id=row.id, new={"name": row.name, "kind": row.kind})
        return channel_out(row)


@router.route("PATCH", "/notifications/channels/{channel_id}", role=Role.ADMIN, every_site=True, body=ChannelPatch,
              response=ChannelOut, tags=TAGS, errors=(404, 422))
async def update_channel(call: Call[ChannelPatch]) -> ChannelOut:
    """Change a channel; a `secret` of "" removes the stored one, an absent one keeps it."""
    body = call.body
    async with call.app[keys.SESSIONS].begin() as session:
        row = await _channel(session, call)
        if body.name is not None:
            row.name = body.name
        if body.enabled is not None:
            row.enabled = body.enabled
        if body.config is not None:
            row.config = _config(row.kind, body.config)
        if body.secret is not None:
            row.secret_sealed = call.app[keys.SECRET_BOX].seal(body.secret) if body.secret else None
        await session.flush()
        await record(session, actor_of(call), "notification_channel.updated", target_type="notification_channel",
                     target_id=row.id, new={"fields": sorted(body.model_fields_set - {"secret"})
                                                + (["secret"] if body.secret is not None else [])})
        return channel_out(row)


@router.route("DELETE", "/notifications/channels/{channel_id}", role=Role.ADMIN, every_site=True, status=204, tags=TAGS,
              errors=(404,))
async def delete_channel(call: Call[NoBody]) -> None:
    """Remove a channel and its queued messages."""
    async with call.app[keys.SESSIONS].begin() as session:
        row = await _channel(session, call)
        await session.delete(row)
        await record(session, actor_of(call), "notification_channel.deleted", target_type="notification_channel",
                     target_id=row.id, old={"name": row.name})


@router.route("POST", "/notifications/channels/{channel_id}/test", role=Role.ADMIN, every_site=True, body=TestIn,
              response=MessageOut, tags=TAGS, errors=(404, 422))
async def test_channel(call: Call[TestIn]) -> MessageOut:
    """Send a test message now; the answer is its delivery record (status SENT, or DEAD with the error)."""
    async with call.app[keys.SESSIONS]() as session:
        row = await _channel(session, call)
        kind, channel_id = row.kind, row.id
    if registry.KINDS[kind][0].needs_recipient and not call.body.recipient:
        raise InvalidInput(f"a {kind} test needs a recipient")
    message_id = await call.app[NOTIFIER].test_send(channel_id, call.user.customer_id, call.body.recipient)
    async with call.app[keys.SESSIONS]() as session:
        message = await session.get(NotifyMessage, message_id)
        assert message is not None
        return message_out(message)


async def _check_refs(session: AsyncSession, call: Call[RuleIn]) -> None:
    body, customer = call.body, call.user.customer_id
    ids = {c for c in body.channel_ids} | {c for lvl in body.escalation for c in lvl.channel_ids}
    found = set((await session.scalars(select(NotifyChannel.id).where(
        NotifyChannel.id.in_(ids), NotifyChannel.customer_id == customer))).all())
    if ids - found:
        raise InvalidInput(f"unknown channel(s): {', '.join(sorted(str(i) for i in ids - found))}")
    if body.site_id is not None:
        site = await session.get(Site, body.site_id)
        if site is None or site.customer_id != customer:
            raise InvalidInput("unknown site_id")
    if body.camera_id is not None:
        camera = await session.get(Camera, body.camera_id)
        if camera is None or camera.customer_id != customer:
            raise InvalidInput("unknown camera_id")
    await _check_recipients(session, customer, [*body.recipients, *(r for lvl in body.escalation
                                                                     for r in lvl.recipients)])


async def _check_recipients(session: AsyncSession, customer: uuid.UUID, recipients: list[str]) -> None:
    """Every user, group and on-call rota a rule names is one of the organisation's (422 names the others)."""
    tables: dict[str, type[User] | type[NotifyGroup] | type[NotifyOnCall]] = {
        "user": User, "group": NotifyGroup, "oncall": NotifyOnCall}
    unknown = []
    for recipient in dict.fromkeys(recipients):
        ref = parse_ref(recipient)  # the schema refused malformed references
        if ref is None:
            continue
        model = tables[ref[0]]
        owner = await session.scalar(select(model.customer_id).where(model.id == ref[1]))
        if owner != customer:
            unknown.append(recipient)
    if unknown:
        raise InvalidInput(f"unknown recipient(s): {', '.join(unknown)}")


def _rule_fields(body: RuleIn) -> dict[str, object]:
    data = body.model_dump(mode="json")
    for key in ("site_id", "camera_id"):
        data[key] = getattr(body, key)
    return data


@router.route("GET", "/notifications/rules", role=Role.SUPERVISOR, response=RuleList, tags=TAGS)
async def list_rules(call: Call[NoBody]) -> RuleList:
    """The routing rules: which events go to which channels and recipients, and their escalation chains."""
    async with call.app[keys.SESSIONS]() as session:
        rows = (await session.scalars(select(NotifyRule).where(
            NotifyRule.customer_id == call.user.customer_id).order_by(NotifyRule.name))).all()
        return RuleList(items=[rule_out(r) for r in rows])


@router.route("POST", "/notifications/rules", role=Role.SUPERVISOR, body=RuleIn, response=RuleOut, status=201,
              tags=TAGS, errors=(422,))
async def create_rule(call: Call[RuleIn]) -> RuleOut:
    async with call.app[keys.SESSIONS].begin() as session:
        await _check_refs(session, call)
        row = NotifyRule(customer_id=call.user.customer_id, **_rule_fields(call.body))
        session.add(row)
        await session.flush()
        await record(session, actor_of(call), "notification_rule.created", target_type="notification_rule",
                     target_id=row.id, old={"name": row.name})
        return rule_out(row)


async def _rule(session: AsyncSession, call: Call[Any]) -> NotifyRule:
    row = await session.get(NotifyRule, call.path_uuid("rule_id"))
    if row is None or row.customer_id != call.user.customer_id:
        raise NotFound("no such rule")
    return row


@router.route("PUT", "/notifications/rules/{rule_id}", role=Role.SUPERVISOR, body=RuleIn, response=RuleOut,
              tags=TAGS, errors=(404, 422))
async def replace_rule(call: Call[RuleIn]) -> RuleOut:
    async with call.app[keys.SESSIONS].begin() as session:
        row = await _rule(session, call)
        await _check_refs(session, call)
        for key, value in _rule_fields(call.body).items():
            setattr(row, key, value)
        await session.flush()
        await record(session, actor_of(call), "notification_rule.updated", target_type="notification_rule",
                     target_id=row.id, old={"name": row.name})
        return rule_out(row)


@router.route("DELETE", "/notifications/rules/{rule_id}", role=Role.SUPERVISOR, status=204, tags=TAGS,
              errors=(404,))
async def delete_rule(call: Call[NoBody]) -> None:
    async with call.app[keys.SESSIONS].begin() as session:
        row = await _rule(session, call)
        await session.delete(row)
        await record(session, actor_of(call), "notification_rule.deleted", target_type="notification_rule",
                     target_id=row.id, old={"name": row.name})


@router.route("GET", "/notifications/messages", role=Role.SUPERVISOR, query=MessageQuery, response=MessageList,
              tags=TAGS, errors=(422,))
async def list_messages(call: Call[NoBody]) -> MessageList:
    """Delivery records, newest first; `status=DEAD` is the dead-letter list."""
    query = call.query(MessageQuery)
    stmt = select(NotifyMessage).where(NotifyMessage.customer_id == call.user.customer_id)
    if query.status is not None:
        stmt = stmt.where(NotifyMessage.status == query.status)
    if query.event_id is not None:
        stmt = stmt.where(NotifyMessage.event_id == query.event_id)
    async with call.app[keys.SESSIONS]() as session:
        rows = (await session.scalars(stmt.order_by(NotifyMessage.created_at.desc()).limit(query.limit))).all()
        return MessageList(items=[message_out(r) for r in rows])


@router.route("POST", "/notifications/messages/{message_id}/retry", role=Role.SUPERVISOR, response=MessageOut,
              tags=TAGS, errors=(404, 409))
async def retry_message(call: Call[NoBody]) -> MessageOut:
    """Put a dead letter back in the queue (after fixing its channel)."""
    async with call.app[keys.SESSIONS].begin() as session:
        row = await session.get(NotifyMessage, call.path_uuid("message_id"))
        if row is None or row.customer_id != call.user.customer_id:
            raise NotFound("no such message")
        if row.status != queue.DEAD:
            raise Conflict(f"only dead letters are retried; this message is {row.status}")
        await queue.requeue(session, row)
        await session.flush()
        out = message_out(row)
    call.app[NOTIFIER].wake()
    return out


@router.route("GET", "/notifications/events/{event_id}/escalations", role=Role.SUPERVISOR,
              response=EscalationList, tags=TAGS)
async def event_escalations(call: Call[NoBody]) -> EscalationList:
    """Where the event's escalation chains stand (ACTIVE, STOPPED by an acknowledgement, DONE)."""
    event_id: uuid.UUID = call.path_uuid("event_id")
    async with call.app[keys.SESSIONS]() as session:
        rows = (await session.scalars(select(NotifyEscalation).where(
            NotifyEscalation.event_id == event_id, NotifyEscalation.customer_id == call.user.customer_id))).all()
        return EscalationList(items=[EscalationOut.model_validate(r, from_attributes=True) for r in rows])
