"""SMS through Twilio's Messages API: `POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form
fields To, From (or MessagingServiceSid) and Body, HTTP basic auth (Account SID, auth token). A 201 carries the
message `sid`; an error carries `{"code", "message", "more_info", "status"}`. The base URL is configurable so that
a regional endpoint, a proxy or a test server can stand in. WhatsApp goes through the same API (`WhatsAppChannel`)."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
from pydantic import Field

from vms_server.notifications.channels.base import Channel, ChannelError, Outgoing, TemplatedConfig


class SmsConfig(TemplatedConfig):

    base_url: str = Field("https://api.twilio.com", min_length=8, description="Twilio API base URL")
    account_sid: str = Field(min_length=2, max_length=64, description="Account SID; the auth token is the secret")
    from_number: str | None = Field(None, max_length=32, description="Sender number (E.164)")
    messaging_service_sid: str | None = Field(None, max_length=64, description="Instead of from_number")
    max_chars: int = Field(320, ge=70, le=1600, description="Longer texts are cut")


class SmsChannel(Channel):
    kind = "sms"
    needs_recipient = True

    def __init__(self, config: dict[str, Any], secret: str | None) -> None:
        self.config = SmsConfig.model_validate(config)
        self.templates = self.config.templates
        self._token = secret or ""

    def address(self, number: str) -> str:
        return number

    async def send(self, message: Outgoing, timeout_s: float) -> str:
        cfg = self.config
        url = f"{cfg.base_url.rstrip('/')}/2010-04-01/Accounts/{cfg.account_sid}/Messages.json"
        form = {"To": self.address(message.recipient), "Body": message.text[: cfg.max_chars]}
        if cfg.messaging_service_sid:
            form["MessagingServiceSid"] = cfg.messaging_service_sid
        else:
            form["From"] = self.address(cfg.from_number or "")
        basic = base64.b64encode(f"{cfg.account_sid}:{self._token}".encode()).decode()
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session, \
                    session.post(url, data=form, headers={"Authorization": f"Basic {basic}"}) as resp:
                body: dict[str, Any] = await resp.json(content_type=None) if resp.content_length != 0 else {}
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ChannelError(f"SMS provider unreachable: {type(exc).__name__}: {exc}") from None
        if status in (200, 201):
            return f"sid {body.get('sid', '?')} {body.get('status', '')}".strip()
        detail = f"Twilio {status} code {body.get('code')}: {str(body.get('message', ''))[:150]}"
        raise ChannelError(detail, permanent=400 <= status < 500 and status != 429)


class WhatsAppChannel(SmsChannel):
    """WhatsApp through the same Twilio Messages API: the numbers carry the `whatsapp:` channel prefix. Outside
    a 24-hour conversation window WhatsApp accepts only approved templates; Twilio then answers 63016."""

    kind = "whatsapp"

    def address(self, number: str) -> str:
        return number if not number or number.startswith("whatsapp:") else f"whatsapp:{number}"
