"""What every channel implements: deliver one rendered message to one recipient, or say why not.

A channel is built from its row (config plus the opened secret) for each delivery batch; it keeps no state
that a restart would lose. Errors say whether another try can help (`permanent`): a refused password or a
404 endpoint goes to the dead-letter list at once, a timeout or a 503 is retried with back-off."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ChannelError(Exception):
    """A delivery failed. `permanent` means retrying the same message cannot succeed."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class MessageTemplate(BaseModel):
    """A site's own wording. `$name` placeholders take the event's fields: $event_type, $priority, $camera_name,
    $site_name, $local_time (site time zone), $timestamp, $object_class, $url, $count, $escalation_level.
    Unknown placeholders stay as written (string.Template, so a template cannot reach into objects)."""

    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(None, max_length=300)
    text: str | None = Field(None, max_length=4000)


class TemplatedConfig(BaseModel):
    """Configuration of the channels that carry text (e-mail, SMS, tickets)."""

    model_config = ConfigDict(extra="forbid")

    templates: dict[str, MessageTemplate] = Field(
        default_factory=dict, description="Per event type ('*' for the others): subject and text templates")


class ChannelConfigError(ValueError):
    """A channel's configuration is unusable (mapped to 422 by the API)."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message ready to send: the rendered texts and the structured payload (webhook JSON, MQTT body)."""

    message_id: str
    recipient: str
    subject: str
    text: str
    html: str
    payload: dict[str, Any]
    snapshot: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RemoteState:
    """Where a ticket a channel opened stands in the other system (Jira's status, ServiceNow's state)."""

    name: str
    closed: bool


class Channel(abc.ABC):
    """One configured channel. `send` raises ChannelError; anything else is treated as a retryable error."""

    kind: str = ""
    templates: dict[str, MessageTemplate] = {}  # replaced per instance (text channels), never mutated
    needs_recipient: bool = False  # email and SMS go to addresses; webhook and MQTT to their endpoint

    @abc.abstractmethod
    def __init__(self, config: dict[str, Any], secret: str | None) -> None:
        """Build from the stored configuration and the opened secret; raises pydantic ValidationError."""

    @abc.abstractmethod
    async def send(self, message: Outgoing, timeout_s: float) -> str:
        """Deliver `message`; return a short receipt (server reply, remote id) for the delivery record."""

    resolves_events: bool = False  # a ticket closed in the other system resolves the event (ticketing channels)

    async def remote_state(self, receipt: str, timeout_s: float) -> RemoteState | None:
        """The state of what this channel opened (its receipt), for channels that open tickets elsewhere;
        None for the others. Raises ChannelError when the other system cannot say."""
        return None

    async def close(self) -> None:  # noqa: B027 - most channels keep nothing open
        """Release connections kept between sends (MQTT)."""
