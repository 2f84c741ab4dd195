"""From a new event to queued messages: the rules that match it (event type, priority, site, camera), one
message per channel and recipient, held through quiet hours, folded into a group when the rule groups, and
an escalation chain started when the rule has one. Runs on the event loop, one event at a time, so grouping
never races with itself."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common.db.base import utcnow
from vms_server.cameras.models import Camera
from vms_server.config.service import ConfigService
from vms_server.events.models import Event
from vms_server.notifications import channels as registry
from vms_server.notifications.directory import Target, resolve
from vms_server.notifications.models import NotifyChannel, NotifyEscalation, NotifyMessage, NotifyRule
from vms_server.notifications.queue import PENDING, enqueue
from vms_server.notifications.quiet import QuietHours, held_until, zone
from vms_server.org.models import Site

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EventContext:
    event: Event
    payload: dict[str, Any]
    tz: dt.tzinfo
    quiet: QuietHours
    escalation_enabled: bool
    escalation_after_min: int
    escalation_repeat: int  # times the last level is notified again before the chain ends
    default_kinds: list[str]  # notifications.channels for this event type: a rule naming no channel uses these
    escalation_kinds: list[str]  # notifications.escalation.channels: a level naming no channel uses these
    language: str = "en"  # notifications.language: the wording for recipients without a language of their own


def matches(rule: NotifyRule, ev: Event) -> bool:
    return (rule.enabled and (not rule.event_types or ev.event_type in rule.event_types)
            and (not rule.priorities or ev.priority in rule.priorities)
            and (rule.site_id is None or rule.site_id == ev.site_id)
            and (rule.camera_id is None or rule.camera_id == ev.camera_id))


async def load_context(session: AsyncSession, config: ConfigService, event_id: uuid.UUID,
                       event_url: str) -> EventContext | None:
    ev = await session.get(Event, event_id)
    if ev is None:
        return None
    camera = await session.get(Camera, ev.camera_id)
    site = await session.get(Site, ev.site_id)
    tz = zone(site.timezone if site else None)
    values = {r.key: r.value for r in await config.effective(ev.camera_id)}
    quiet = QuietHours(bool(values["notifications.quiet_hours.enabled"]),
                       dt.time.fromisoformat(str(values["notifications.quiet_hours.start"])),
                       dt.time.fromisoformat(str(values["notifications.quiet_hours.end"])),
                       frozenset(str(p) for p in values["notifications.quiet_hours.allow"]))
    payload: dict[str, Any] = {
        "type": "event", "event_id": str(ev.id), "event_type": ev.event_type, "priority": ev.priority,
        "camera_id": str(ev.camera_id), "camera_name": camera.name if camera else None,
        "site_id": str(ev.site_id), "site_name": site.name if site else None,
        "timestamp": ev.timestamp.isoformat(),
        "local_time": ev.timestamp.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z"),
        "confidence": round(ev.confidence, 3), "object_class": ev.object_class,
        "url": event_url.replace("{event_id}", str(ev.id)), "_snapshot": ev.snapshot_path,
    }
    return EventContext(ev, payload, tz, quiet, bool(values["notifications.escalation.enabled"]),
                        int(values["notifications.escalation.after_minutes"]),
                        int(values["notifications.escalation.repeat"]),
                        _kinds_for(values["notifications.channels"], ev.event_type),
                        [str(k) for k in values["notifications.escalation.channels"]],
                        str(values["notifications.language"]))


def _kinds_for(by_type: Any, event_type: str) -> list[str]:
    if not isinstance(by_type, dict):
        return []
    kinds: list[Any] = list(by_type.get(event_type, by_type.get("*")) or [])
    return [str(k) for k in kinds]


async def queue_for_channels(session: AsyncSession, ctx: EventContext, *, rule: NotifyRule,
                             channel_ids: list[str], recipients: list[str], dedup_prefix: str, kind: str,
                             extra: dict[str, Any] | None = None, group_window_s: int = 0,
                             default_kinds: list[str] | None = None) -> int:
    """Queue one message per enabled channel and recipient; returns how many rows were added or grouped.
    With no `channel_ids`, the organisation's enabled channels of `default_kinds` (the configuration hierarchy's
    choice for this camera) are used. Users, groups and on-call rotas among `recipients` are resolved to the
    contact point each channel needs; a user's own quiet hours hold that user's message only."""
    kinds: list[str] = list(default_kinds) if default_kinds else []
    if "push" in kinds:  # the hierarchy's "push" is mobile push of either kind (FCM apps, Web Push browsers)
        kinds += ["fcm", "webpush"]
    ids = [uuid.UUID(c) for c in channel_ids]
    chosen = NotifyChannel.id.in_(ids) if ids else NotifyChannel.kind.in_(kinds)
    rows = (await session.scalars(select(NotifyChannel).where(
        chosen, NotifyChannel.customer_id == ctx.event.customer_id, NotifyChannel.enabled.is_(True))
        .order_by(NotifyChannel.name))).all()
    now = utcnow()
    site_hold = held_until(ctx.quiet, ctx.event.priority, now, ctx.tz)
    queued = 0
    for channel in rows:
        needs = registry.KINDS[channel.kind][0].needs_recipient if channel.kind in registry.KINDS else False
        targets = await resolve(session, ctx.event.customer_id, recipients, channel.kind, now) if needs \
            else [Target("")]
        for target in targets:
            recipient = target.address
            group_key = None
            if group_window_s > 0 and ctx.event.priority != "CRITICAL" and kind == "event":
                group_key = f"{rule.id}:{channel.id}:{recipient}:{ctx.event.event_type}:{ctx.event.site_id}"
                if await _fold_into_group(session, group_key, ctx.event.id):
                    queued += 1
                    continue
            due = now + dt.timedelta(seconds=group_window_s) if group_key else now
            hold, reason = _hold(ctx, target, site_hold, now)
            if hold is not None:
                due = max(due, hold)
            message = NotifyMessage(
                customer_id=ctx.event.customer_id, channel_id=channel.id, event_id=ctx.event.id, rule_id=rule.id,
                recipient=recipient, kind=kind,
                payload={**ctx.payload, **(extra or {}), "_lang": target.language or ctx.language},
                dedup_key=f"{dedup_prefix}:{channel.id}:{recipient}"[:300], group_key=group_key, status=PENDING,
                next_attempt_at=due, held_reason=reason)
            queued += int(await enqueue(session, message))
    return queued


def _hold(ctx: EventContext, target: Target, site_hold: dt.datetime | None,
          now: dt.datetime) -> tuple[dt.datetime | None, str | None]:
    """The later of the site's and the recipient's quiet-hours ends, and which one holds the message."""
    own = held_until(target.quiet, ctx.event.priority, now, target.tz or ctx.tz) if target.quiet else None
    if own is not None and (site_hold is None or own > site_hold):
        return own, "recipient_quiet_hours"
    return site_hold, "quiet_hours" if site_hold is not None else None


async def _fold_into_group(session: AsyncSession, group_key: str, event_id: uuid.UUID) -> bool:
    """Add the event to the group's message still waiting for its window to close, if there is one."""
    row = await session.scalar(select(NotifyMessage).where(
        NotifyMessage.group_key == group_key, NotifyMessage.status == PENDING, NotifyMessage.attempts == 0,
        NotifyMessage.next_attempt_at > utcnow()).limit(1))
    if row is None:
        return False
    row.count += 1
    row.payload = {**row.payload, "last_event_id": str(event_id)}
    return True


async def _has_chain(session: AsyncSession, event_id: uuid.UUID, rule_id: uuid.UUID) -> bool:
    return await session.scalar(select(NotifyEscalation.id).where(
        NotifyEscalation.event_id == event_id, NotifyEscalation.rule_id == rule_id).limit(1)) is not None


async def route_event(session: AsyncSession, ctx: EventContext, minute_s: float) -> int:
    """Queue the event's messages and start its escalation chains; returns the messages queued."""
    rules = (await session.scalars(select(NotifyRule).where(
        NotifyRule.customer_id == ctx.event.customer_id, NotifyRule.enabled.is_(True)))).all()
    queued = 0
    for rule in rules:
        if not matches(rule, ctx.event):
            continue
        queued += await queue_for_channels(
            session, ctx, rule=rule, channel_ids=rule.channel_ids, recipients=rule.recipients,
            dedup_prefix=f"ev:{ctx.event.id}:{rule.id}", kind="event", group_window_s=rule.group_window_s,
            default_kinds=ctx.default_kinds)
        if rule.escalation and ctx.escalation_enabled and not await _has_chain(session, ctx.event.id, rule.id):
            first = rule.escalation[0].get("after_minutes") or ctx.escalation_after_min
            session.add(NotifyEscalation(event_id=ctx.event.id, rule_id=rule.id, customer_id=ctx.event.customer_id,
                                         level=0, next_at=utcnow() + dt.timedelta(seconds=first * minute_s)))
    return queued
