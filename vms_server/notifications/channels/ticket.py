"""Built-in tickets as a channel, so that an escalation level can read "then open a ticket" like any other
step. The channel writes through an opener the notification service binds (it owns the database sessions);
an event with an open ticket gets no second one."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field

from vms_server.notifications.channels.base import Channel, ChannelError, Outgoing, TemplatedConfig

# (event id, title, description, assignee) -> receipt
Opener = Callable[[uuid.UUID, str, str, str | None], Awaitable[str]]


class TicketConfig(TemplatedConfig):
    assignee: str | None = Field(None, max_length=100, description="Username the new ticket is assigned to")


class TicketChannel(Channel):
    kind = "ticket"

    def __init__(self, config: dict[str, Any], secret: str | None) -> None:
        self.config = TicketConfig.model_validate(config)
        self.templates = self.config.templates
        self.opener: Opener | None = None

    async def send(self, message: Outgoing, timeout_s: float) -> str:
        event_id = message.payload.get("event_id")
        if not event_id:
            return "built-in tickets ready (a test opens no ticket)"
        if self.opener is None:
            raise ChannelError("ticket channel not bound to the database")
        return await self.opener(uuid.UUID(str(event_id)), message.subject, message.text, self.config.assignee)
