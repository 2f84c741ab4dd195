"""An operator's escalation handed to the site's ticketing system: when `notifications.escalate_to` (per site,
customer or camera) names Jira or ServiceNow, opening a built-in ticket for an event also queues the event for
each enabled channel of that kind. The built-in ticket stays the operator's handle; the remote one is opened by
the delivery worker (retries, dead letters) and its state is read back like an escalation level's."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_server.config.service import ConfigService
from vms_server.notifications.models import NotifyChannel, NotifyMessage
from vms_server.notifications.queue import PENDING, enqueue
from vms_server.notifications.routing import load_context

logger = logging.getLogger(__name__)
REMOTE_KINDS = ("jira", "servicenow")


async def escalate_to(config: ConfigService, camera_id: uuid.UUID) -> str:
    """Where the camera's site sends an operator's escalation: "ticket" (built-in only), "jira", "servicenow"."""
    values = {r.key: r.value for r in await config.effective(camera_id)}
    return str(values["notifications.escalate_to"])


async def hand_off(session: AsyncSession, config: ConfigService, event_id: uuid.UUID, ticket_id: uuid.UUID,
                   event_url: str) -> list[str]:
    """Queue the event for the remote ticketing channels the site's setting names; returns their names
    (empty: built-in only, or no such channel enabled). Once per ticket: the dedup key names it."""
    ctx = await load_context(session, config, event_id, event_url)
    if ctx is None:
        return []
    kind = await escalate_to(config, ctx.event.camera_id)
    if kind not in REMOTE_KINDS:
        return []
    channels = (await session.scalars(select(NotifyChannel).where(
        NotifyChannel.customer_id == ctx.event.customer_id, NotifyChannel.kind == kind,
        NotifyChannel.enabled.is_(True)).order_by(NotifyChannel.name))).all()
    if not channels:
        logger.warning("escalations go to %s, but no %s channel is enabled", kind, kind)
    for channel in channels:
        await enqueue(session, NotifyMessage(
            customer_id=ctx.event.customer_id, channel_id=channel.id, event_id=ctx.event.id, kind="escalation",
            payload={**ctx.payload, "ticket_id": str(ticket_id), "_lang": ctx.language},
            dedup_key=f"handoff:{ticket_id}:{channel.id}", status=PENDING))
    return [c.name for c in channels]
