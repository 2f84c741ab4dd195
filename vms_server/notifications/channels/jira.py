"""Jira: an escalation level (or a rule) that opens an issue. Jira Cloud REST API v3:
`POST {base_url}/rest/api/3/issue` with basic auth (account e-mail, API token), fields project/summary/issuetype
and a description in Atlassian Document Format; a 201 answers `{"id", "key", "self"}`, a 400
`{"errorMessages": [...], "errors": {field: message}}`. The issue key is kept as the message's receipt, so the
event's delivery records name its ticket. The issue's status is read back (`GET /rest/api/3/issue/{key}?fields=status`)
and noted on the event; an issue in the "done" status category resolves it when `resolve_event` is set."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from vms_server.notifications.channels.base import Channel, ChannelError, Outgoing, RemoteState, TemplatedConfig
from vms_server.notifications.channels.ticketing import post_json, refused


class JiraConfig(TemplatedConfig):

    base_url: str = Field(min_length=8, max_length=500, description="https://<site>.atlassian.net")
    email: str = Field(min_length=3, max_length=255, description="Account the API token belongs to (the secret)")
    project_key: str = Field(min_length=1, max_length=50, pattern=r"^[A-Z][A-Z0-9_]*$")
    issue_type: str = Field("Task", min_length=1, max_length=100)
    labels: list[str] = Field(default_factory=lambda: ["vms"], max_length=20)
    resolve_event: bool = Field(False, description="Resolve the event when its issue is done")


def issue_body(config: JiraConfig, message: Outgoing) -> dict[str, Any]:
    paragraphs = [p for p in message.text.split("\n") if p.strip()]
    return {"fields": {
        "project": {"key": config.project_key}, "issuetype": {"name": config.issue_type},
        "summary": message.subject[:250], "labels": config.labels,
        "description": {"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": p}]} for p in paragraphs]},
    }}


class JiraChannel(Channel):
    kind = "jira"

    def __init__(self, config: dict[str, Any], secret: str | None) -> None:
        self.config = JiraConfig.model_validate(config)
        self.templates = self.config.templates
        self.resolves_events = self.config.resolve_event
        self._token = secret or ""

    async def remote_state(self, receipt: str, timeout_s: float) -> RemoteState | None:
        key = receipt.removeprefix("jira ").strip()
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*-\d+", key):
            return None
        cfg = self.config
        status, body = await post_json("Jira", f"{cfg.base_url.rstrip('/')}/rest/api/3/issue/{key}?fields=status",
                                       cfg.email, self._token, None, timeout_s, method="GET")
        if status != 200:
            raise ChannelError(f"Jira {status} reading {key}")
        state = (body.get("fields") or {}).get("status") or {}
        category = (state.get("statusCategory") or {}).get("key")
        return RemoteState(str(state.get("name") or "?"), category == "done")

    async def send(self, message: Outgoing, timeout_s: float) -> str:
        cfg = self.config
        status, body = await post_json("Jira", f"{cfg.base_url.rstrip('/')}/rest/api/3/issue", cfg.email,
                                       self._token, issue_body(cfg, message), timeout_s)
        if status == 201:
            return f"jira {body.get('key', '?')}"
        fields = (f"{k}: {v}" for k, v in body.get("errors", {}).items())
        raise refused("Jira", status, "; ".join([*body.get("errorMessages", []), *fields]))
