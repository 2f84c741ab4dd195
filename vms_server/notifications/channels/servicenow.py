"""ServiceNow: a rule or an escalation level that opens an incident through the Table API,
`POST {instance_url}/api/now/table/incident` with basic auth (an integration user; its password is the secret).
A 201 answers `{"result": {"sys_id", "number", ...}}`; an error `{"error": {"message", "detail"}, "status":
"failure"}`. The incident number is kept as the message's receipt. Urgency and impact follow the event's
priority. The incident's state is read back (`GET /api/now/table/incident?sysparm_query=number=...`) and noted on the
event; Resolved, Closed or Canceled resolves it when `resolve_event` is set."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from vms_server.notifications.channels.base import Channel, ChannelError, Outgoing, RemoteState, TemplatedConfig
from vms_server.notifications.channels.ticketing import post_json, refused

# event priority -> (urgency, impact); ServiceNow derives the incident priority from the two
_LEVELS = {"CRITICAL": ("1", "1"), "HIGH": ("1", "2"), "MEDIUM": ("2", "2"), "STANDARD": ("3", "3")}
# The incident table's `state` choices (out of the box); 6-8 end the incident.
_STATES = {"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed", "8": "Canceled"}


class ServiceNowConfig(TemplatedConfig):

    instance_url: str = Field(min_length=8, max_length=500, description="https://<instance>.service-now.com")
    username: str = Field(min_length=1, max_length=255, description="Integration user; its password is the secret")
    assignment_group: str | None = Field(None, max_length=100, description="sys_id or name of the group")
    category: str = Field("security", max_length=100)
    resolve_event: bool = Field(False, description="Resolve the event when its incident is resolved or closed")


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
        self.resolves_events = self.config.resolve_event
        self._password = secret or ""

    async def remote_state(self, receipt: str, timeout_s: float) -> RemoteState | None:
        number = receipt.removeprefix("servicenow ").strip()
        if not re.fullmatch(r"[A-Z]{2,6}\d{4,12}", number):
            return None
        cfg = self.config
        url = (f"{cfg.instance_url.rstrip('/')}/api/now/table/incident?sysparm_query=number={number}"
               "&sysparm_fields=number,state&sysparm_limit=1")
        status, body = await post_json("ServiceNow", url, cfg.username, self._password, None, timeout_s,
                                       method="GET")
        if status != 200:
            raise ChannelError(f"ServiceNow {status} reading {number}")
        found = body.get("result") or []
        if not found:
            return None
        state = str(found[0].get("state", ""))
        return RemoteState(_STATES.get(state, state or "?"), state in ("6", "7", "8"))

    async def send(self, message: Outgoing, timeout_s: float) -> str:
        cfg = self.config
        status, body = await post_json("ServiceNow", f"{cfg.instance_url.rstrip('/')}/api/now/table/incident",
                                       cfg.username, self._password, incident_body(cfg, message), timeout_s)
        if status == 201:
            return f"servicenow {body.get('result', {}).get('number', '?')}"
        error = body.get("error") or {}
        raise refused("ServiceNow", status, f"{error.get('message', '')} {error.get('detail', '')}".strip())
