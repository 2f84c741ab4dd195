"""Tickets opened elsewhere, read back: the Jira issue or ServiceNow incident a message opened is looked at every
`notifications.remote_poll_s`, and each change of its state becomes a note on the event ("SEC-101 is now In
Progress", by "jira"); a ticket closed there resolves the event when its channel says `resolve_event`.

Polling rather than the services' webhooks: the server usually sits on a site network the cloud services cannot
call, while it can always call out. A ticket closed there is no longer read; one that cannot be read (the
service is down, the token revoked) is tried again next round and logged once per round, never dead-lettered:
the message itself was delivered.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_common.db.base import utcnow
from vms_server.audit.service import Actor
from vms_server.events.service import note_from_system
from vms_server.notifications.channels import Channel, ChannelError
from vms_server.notifications.models import NotifyChannel, NotifyMessage

logger = logging.getLogger(__name__)

KINDS = ("jira", "servicenow")
WINDOW = dt.timedelta(days=30)  # tickets older than this are not followed any more
BATCH = 200

ChannelsFor = Callable[[set[uuid.UUID]], Awaitable[dict[uuid.UUID, Channel]]]


async def poll_once(sessions: async_sessionmaker[AsyncSession], channels_for: ChannelsFor, timeout_s: float) -> int:
    """Read back the open tickets of the last 30 days; returns how many changed state."""
    async with sessions() as session:
        rows = (await session.execute(
            select(NotifyMessage.id, NotifyMessage.channel_id, NotifyMessage.receipt, NotifyMessage.remote_state,
                   NotifyChannel.kind)
            .join(NotifyChannel, NotifyChannel.id == NotifyMessage.channel_id)
            .where(NotifyChannel.kind.in_(KINDS), NotifyMessage.status == "SENT",
                   NotifyMessage.receipt.is_not(None), NotifyMessage.event_id.is_not(None),
                   NotifyMessage.remote_closed.is_(False), NotifyMessage.sent_at >= utcnow() - WINDOW)
            .order_by(NotifyMessage.sent_at).limit(BATCH))).all()
    if not rows:
        return 0
    channels = await channels_for({row.channel_id for row in rows})
    changed = 0
    for row in rows:
        channel = channels.get(row.channel_id)
        if channel is None or row.receipt is None:
            continue
        try:
            state = await channel.remote_state(row.receipt, timeout_s)
        except ChannelError as exc:
            logger.warning("cannot read back %s: %s", row.receipt, exc)
            continue
        if state is None or state.name == row.remote_state:
            continue
        async with sessions.begin() as session:
            message = await session.get(NotifyMessage, row.id)
            if message is None or message.event_id is None:
                continue
            message.remote_state, message.remote_closed = state.name, state.closed
            ticket = row.receipt.split(" ", 1)[-1]
            await note_from_system(session, message.event_id, row.kind, f"{ticket} is now {state.name}",
                                   Actor(None, row.kind), resolve=state.closed and channel.resolves_events)
        logger.info("ticket %s is now %s", row.receipt, state.name)
        changed += 1
    return changed
