"""API models of /notifications. Channel secrets are write-only: `secret` goes in, `has_secret` comes out."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vms_server.notifications.directory import parse_ref

Kind = Literal["email", "webhook", "mqtt", "sms", "whatsapp", "jira", "servicenow", "ticket", "fcm", "webpush"]
PriorityName = Literal["CRITICAL", "HIGH", "MEDIUM", "STANDARD"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


RECIPIENTS_DOC = ("E-mail addresses / phone numbers, or `user:<id>`, `group:<id>`, `oncall:<id>` (resolved to each "
                  "user's contact point for the channel when a message is queued)")


def _refs(value: list[str]) -> list[str]:
    for recipient in value:
        try:
            parse_ref(recipient)
        except ValueError:
            raise ValueError(f"{recipient!r}: a user/group/oncall reference takes a UUID") from None
    return value


class ChannelIn(_In):
    name: str = Field(min_length=1, max_length=200)
    kind: Kind
    enabled: bool = True
    config: dict[str, Any] = Field(description="Kind-specific settings (docs/notifications.md)")
    secret: str | None = Field(None, max_length=4096,
                               description="SMTP/MQTT password, webhook HMAC secret, SMS auth token, Jira API "
                                           "token or ServiceNow password; write-only, stored sealed")


class ChannelPatch(_In):
    name: str | None = Field(None, min_length=1, max_length=200)
    enabled: bool | None = None
    config: dict[str, Any] | None = None
    secret: str | None = Field(None, max_length=4096, description="A new secret; empty string removes it")


class ChannelOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    enabled: bool
    config: dict[str, Any]
    has_secret: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class ChannelList(BaseModel):
    items: list[ChannelOut]


class EscalationLevel(_In):
    name: str | None = Field(None, max_length=100, description="Who this level is (supervisor, on-call)")
    after_minutes: float | None = Field(None, gt=0, le=1440,
                                        description="Unacknowledged this long since the previous step "
                                                    "(default notifications.escalation.after_minutes)")
    channel_ids: list[uuid.UUID] = Field(default_factory=list, max_length=20,
                                         description="Empty: the channels of the kinds in "
                                                     "notifications.escalation.channels")
    recipients: list[str] = Field(default_factory=list, max_length=100,
                                  description="Empty: the rule's recipients. " + RECIPIENTS_DOC)

    _recipients = field_validator("recipients")(_refs)


class RuleIn(_In):
    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    event_types: list[str] = Field(default_factory=list, max_length=50, description="Empty: every type")
    priorities: list[PriorityName] = Field(default_factory=list, description="Empty: every priority")
    site_id: uuid.UUID | None = None
    camera_id: uuid.UUID | None = None
    channel_ids: list[uuid.UUID] = Field(default_factory=list, max_length=20,
                                         description="Empty: the channels of the kinds notifications.channels "
                                                     "lists for the event type (per camera, site, customer)")
    recipients: list[str] = Field(default_factory=list, max_length=100, description=RECIPIENTS_DOC)
    group_window_s: int = Field(0, ge=0, le=3600,
                                description="Fold non-critical events of one type and site within this window "
                                            "into one message with a count (0: one message per event)")
    escalation: list[EscalationLevel] = Field(default_factory=list, max_length=10)

    _recipients = field_validator("recipients")(_refs)


class RuleOut(RuleIn):
    id: uuid.UUID
    created_at: dt.datetime
    updated_at: dt.datetime


class RuleList(BaseModel):
    items: list[RuleOut]


class TestIn(_In):
    recipient: str = Field("", max_length=300, description="Address or number (email, SMS)")


class MessageQuery(_In):
    status: Literal["PENDING", "SENDING", "SENT", "DEAD"] | None = None
    event_id: uuid.UUID | None = None
    limit: int = Field(100, ge=1, le=1000)


class MessageOut(BaseModel):
    id: uuid.UUID
    channel_id: uuid.UUID
    event_id: uuid.UUID | None
    rule_id: uuid.UUID | None
    kind: str
    recipient: str
    status: str
    attempts: int
    count: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None
    held_reason: str | None
    last_error: str | None
    receipt: str | None = Field(None, description="What the receiver answered: Jira issue key, Twilio message sid")
    remote_state: str | None = Field(None, description="Where the ticket it opened stands in Jira or ServiceNow, "
                                                       "as last read back")


class MessageList(BaseModel):
    items: list[MessageOut]


class EscalationOut(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    rule_id: uuid.UUID
    level: int
    state: str
    next_at: dt.datetime


class EscalationList(BaseModel):
    items: list[EscalationOut]
