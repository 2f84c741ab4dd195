"""Channel kinds by name. A kind is a small module implementing `Channel`; the API validates a channel's
configuration with the kind's pydantic model before it is stored."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from vms_server.notifications.channels.base import Channel, ChannelConfigError, ChannelError, Outgoing
from vms_server.notifications.channels.email import EmailChannel, EmailConfig
from vms_server.notifications.channels.fcm import FcmChannel, FcmConfig
from vms_server.notifications.channels.jira import JiraChannel, JiraConfig
from vms_server.notifications.channels.mqtt import MqttChannel, MqttConfig
from vms_server.notifications.channels.servicenow import ServiceNowChannel, ServiceNowConfig
from vms_server.notifications.channels.sms import SmsChannel, SmsConfig, WhatsAppChannel
from vms_server.notifications.channels.ticket import TicketChannel, TicketConfig
from vms_server.notifications.channels.webhook import WebhookChannel, WebhookConfig
from vms_server.notifications.channels.webpush import WebPushChannel, WebPushConfig

KINDS: dict[str, tuple[type[Channel], type[BaseModel]]] = {
    "email": (EmailChannel, EmailConfig),
    "webhook": (WebhookChannel, WebhookConfig),
    "mqtt": (MqttChannel, MqttConfig),
    "sms": (SmsChannel, SmsConfig),
    "whatsapp": (WhatsAppChannel, SmsConfig),
    "jira": (JiraChannel, JiraConfig),
    "servicenow": (ServiceNowChannel, ServiceNowConfig),
    "ticket": (TicketChannel, TicketConfig),
    "fcm": (FcmChannel, FcmConfig),
    "webpush": (WebPushChannel, WebPushConfig),
}


def validate_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """The configuration as stored (JSON), or ChannelConfigError saying what is wrong."""
    if kind not in KINDS:
        raise ChannelConfigError(f"unknown channel kind {kind!r}; one of {', '.join(KINDS)}")
    try:
        return KINDS[kind][1].model_validate(config).model_dump(mode="json")
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ChannelConfigError(f"invalid {kind} configuration: {problems}") from None


def build(kind: str, config: dict[str, Any], secret: str | None) -> Channel:
    if kind not in KINDS:
        raise ChannelConfigError(f"unknown channel kind {kind!r}")
    return KINDS[kind][0](config, secret)


__all__ = ["KINDS", "Channel", "ChannelConfigError", "ChannelError", "Outgoing", "build", "validate_config"]
