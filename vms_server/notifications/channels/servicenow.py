"""ServiceNow: a rule or an escalation level that opens an incident through the Table API,
`POST {instance_url}/api/now/table/incident` with basic auth (an integration user; its password is the secret).
A 201 answers `{"result": {"sys_id", "number", ...}}`; an error `{"error": {"message", "detail"}, "status":
"failure"}`. The incident number is kept as the message's receipt. Urgency and impact follow the event's
priority. Mirroring the incident's state back is not done yet."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
from pydantic import Field

from vms_server.notifications.channels.base import Channel, ChannelError, Outgoing, TemplatedConfig

# event priority -> (urgency, impact); ServiceNow derives the incident priority from the two
_LEVELS = {"CRITICAL": ("1", "1"), "HIGH": ("1", "2"), "MEDIUM": ("2", "2"), "STANDARD": ("3", "3")}


class ServiceNowConfig(TemplatedConfig):

    instance_url: str = Field(min_length=8, max_length=500, description="https://<instance>.service-now.com")
    username: str = Field(min_length=1, max_length=255, description="Integration user; its password is the secret")
    assignment_group: str | None = Field(None, max_length=100, description="sys_id or name of the group")
    category: str = Field("security", max_length=100)


def incident_body(config: ServiceNowConfig, message: Outgoing) -> dict[str, str]:
    urgency, impact = _LEVELS.get(str(message.payload.get("priority")), ("3", "3"))
    body = {"short_description": message.subject[:160], "description": message.text, "urgency": urgency,
            "impact": impact, "category": config.category,
            "correlation_id": str(message.payload.get("event_id") or message.message_id)}
    if config.assignment_group:
        body["assignment_group"] = config.assignment_group
    return body


class ServiceNowChannel(Channel):
    kind = "servicenow"

    def __init__(self, config: dict[str, Any], secret: str | None) -> None:
        self.config = ServiceNowConfig.model_validate(config)
        self.templates = self.config.templates
        self._password = secret or ""

    async def send(self, message: Outgoing, timeout_s: float) -> str:
        cfg = self.config
        auth = base64.b64encode(f"{cfg.username}:{self._password}".encode()).decode()
        headers = {"Authorization": f"Basic {auth}", "Accept": "application/json"}
        url = f"{cfg.instance_url.rstrip('/')}/api/now/table/incident"
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session, \
                    session.post(url, json=incident_body(cfg, message), headers=headers) as resp:
                status = resp.status
                body: dict[str, Any] = await resp.json(content_type=None) if status != 204 else {}
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ChannelError(f"ServiceNow unreachable: {type(exc).__name__}: {exc}") from None
        if status == 201:
            return f"servicenow {body.get('result', {}).get('number', '?')}"
        error = body.get("error") or {}
        detail = f"{error.get('message', '')} {error.get('detail', '')}".strip()
        raise ChannelError(f"ServiceNow {status}: {detail[:200]}", permanent=400 <= status < 500 and status != 429)
