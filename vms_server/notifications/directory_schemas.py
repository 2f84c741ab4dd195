"""API models of the notification directory: users' contact points, groups and on-call rotas."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from vms_server.notifications.schemas import PriorityName
from vms_server.recording.schedule import check_timezone, timezone_enum

Language = Literal["en", "de", "fr"]  # one per file in notifications/wording (a test holds them together)
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
# An IANA zone this server knows; the document lists them (an enum), so a client sees which names are taken.
Zone = Annotated[str, Field(max_length=64, json_schema_extra=timezone_enum), AfterValidator(check_timezone)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactIn(_In):
    email: str | None = Field(None, max_length=300, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(None, max_length=40, pattern=r"^(whatsapp:)?\+?[0-9 ()-]{3,30}$",
                              description="For SMS and WhatsApp")
    fcm_token: str | None = Field(None, max_length=4096, description="FCM registration token of the user's app")
    webpush_subscription: str | None = Field(None, max_length=4096,
                                             description="The browser's PushSubscription.toJSON(), as JSON text")
    language: Language | None = Field(None, description="Wording of the user's messages; none: the site's")
    timezone: Zone | None = Field(None, description="Zone of the user's quiet hours; none: the site's")
    quiet_enabled: bool = False
    quiet_start: str = Field("22:00", pattern=HHMM)
    quiet_end: str = Field("06:00", pattern=HHMM)
    quiet_allow: list[PriorityName] = Field(default_factory=lambda: list[PriorityName](["CRITICAL"]),
                                            description="Priorities that reach the user during their quiet hours")


class ContactOut(ContactIn):
    user_id: uuid.UUID
    username: str
    updated_at: dt.datetime


class ContactList(BaseModel):
    items: list[ContactOut]


class GroupIn(_In):
    name: str = Field(min_length=1, max_length=200)
    members: list[uuid.UUID] = Field(default_factory=list, max_length=500, description="User ids")


class GroupOut(GroupIn):
    id: uuid.UUID
    ref: str = Field(description="What a rule's recipients name it by")


class GroupList(BaseModel):
    items: list[GroupOut]


class Shift(_In):
    user_id: uuid.UUID
    days: list[int] = Field(default_factory=lambda: list(range(7)), min_length=1, max_length=7,
                            description="Days the shift starts on, 0 = Monday")
    start: str = Field(pattern=HHMM)
    end: str = Field(pattern=HHMM, description="Not after start: the shift runs overnight")

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in value):
            raise ValueError("days are 0 (Monday) to 6 (Sunday)")
        return sorted(set(value))


class OnCallIn(_In):
    name: str = Field(min_length=1, max_length=200)
    timezone: Zone = "UTC"
    shifts: list[Shift] = Field(default_factory=list, max_length=200)
    fallback_user_id: uuid.UUID | None = Field(None, description="Notified when nobody is on shift")


class OnCallOut(OnCallIn):
    id: uuid.UUID
    ref: str = Field(description="What a rule's recipients name it by")


class OnCallList(BaseModel):
    items: list[OnCallOut]


class OnCallNow(BaseModel):
    at: dt.datetime
    user_ids: list[uuid.UUID]
