"""Escalation chains: an event still NEW (nobody acknowledged it) when its chain's next level falls due is
sent to that level's channels and recipients, noted on the event's timeline, and the chain moves on. The
state is a row, advanced in the same transaction as the messages it queues, so a restart neither skips nor
repeats a level; acknowledging the event stops the chain at its next due time, before anything is sent."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_common.db.base import utcnow
from vms_server.config.service import ConfigService
from vms_server.events.models import Event, EventNote
from vms_server.notifications.models import NotifyEscalation, NotifyRule
from vms_server.notifications.routing import load_context, queue_for_channels

logger = logging.getLogger(__name__)

ACTIVE, STOPPED, DONE = "ACTIVE", "STOPPED", "DONE"


async def run_due(sessions: async_sessionmaker[AsyncSession], config: ConfigService, *, minute_s: float,
                  event_url: str, limit: int = 100) -> int:
    """Stop the chains of acknowledged events, then advance every chain that is due; returns how many levels
    were notified."""
    async with sessions() as session:  # the common case, no chain running, costs one read and no write lock
        if await session.scalar(select(NotifyEscalation.id).where(NotifyEscalation.state == ACTIVE).limit(1)) is None:
            return 0
    async with sessions.begin() as session:
        acknowledged = exists().where(Event.id == NotifyEscalation.event_id, Event.status != "NEW")
        await session.execute(update(NotifyEscalation).where(NotifyEscalation.state == ACTIVE, acknowledged)
            .values(state=STOPPED, updated_at=utcnow()).execution_options(synchronize_session=False))
    async with sessions() as session:
        ids = (await session.scalars(select(NotifyEscalation.id).where(
            NotifyEscalation.state == ACTIVE, NotifyEscalation.next_at <= utcnow())
            .order_by(NotifyEscalation.next_at).limit(limit))).all()
    notified = 0
    for esc_id in ids:
        try:
            async with sessions.begin() as session:
                notified += await _advance(session, config, esc_id, minute_s, event_url)
        except Exception:
            logger.exception("escalation step failed; it is retried on the next round")
    return notified


async def _advance(session: AsyncSession, config: ConfigService, esc_id: object, minute_s: float,
                   event_url: str) -> int:
    esc = await session.get(NotifyEscalation, esc_id)
    if esc is None or esc.state != ACTIVE or esc.next_at > utcnow():
        return 0  # another round got there first
    ctx = await load_context(session, config, esc.event_id, event_url)
    rule = await session.get(NotifyRule, esc.rule_id)
    esc.updated_at = utcnow()
    if ctx is None or ctx.event.status != "NEW":
        esc.state = STOPPED
        logger.info("escalation of event %s stopped: acknowledged", esc.event_id)
        return 0
    # Past the last level the chain repeats it `notifications.escalation.repeat` times (on-call paged again).
    steps = len(rule.escalation) + ctx.escalation_repeat if rule is not None and rule.escalation else 0
    if rule is None or esc.level >= steps:
        esc.state = DONE
        return 0
    index = min(esc.level, len(rule.escalation) - 1)
    level = rule.escalation[index]
    number = index + 1
    again = f", repeat {esc.level - index}" if esc.level > index else ""
    queued = await queue_for_channels(
        session, ctx, rule=rule, channel_ids=list(level.get("channel_ids", [])),
        recipients=list(level.get("recipients") or rule.recipients), dedup_prefix=f"esc:{esc.id}:{esc.level}",
        kind="escalation",
        extra={"escalation_level": number, "escalation_step": esc.level + 1}, default_kinds=ctx.escalation_kinds)
    session.add(EventNote(event_id=esc.event_id, author="notifications",
                          text=f"Escalated to level {number} ({level.get('name') or 'unnamed'}{again}): "
                               f"{queued} message(s) queued"))
    esc.level += 1
    if esc.level < steps:
        after = rule.escalation[min(esc.level, len(rule.escalation) - 1)].get("after_minutes") \
            or ctx.escalation_after_min
        esc.next_at = utcnow() + dt.timedelta(seconds=float(after) * minute_s)
    else:
        esc.state = DONE
    logger.info("event %s escalated to level %d", esc.event_id, number)
    return 1
