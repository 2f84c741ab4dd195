"""Jira: an escalation level (or a rule) that opens an issue. Jira Cloud REST API v3:
`POST {base_url}/rest/api/3/issue` with basic auth (account e-mail, API token), fields project/summary/issuetype
and a description in Atlassian Document Format; a 201 answers `{"id", "key", "self"}`, a 400
`{"errorMessages": [...], "errors": {field: message}}`. The issue key is kept as the message's receipt, so the
event's delivery records name its ticket. Mirroring the issue's status back is not done yet."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
from pydantic import Field

from vms_server.notifications.channels.base import Channel, ChannelError, Outgoing, TemplatedConfig


class JiraConfig(TemplatedConfig):

    base_url: str = Field(min_length=8, max_length=500, description="https://<site>.atlassian.net")
    email: str = Field(min_length=3, max_length=255, description="Account the API token belongs to (the secret)")
    project_key: str = Field(min_length=1, max_length=50, pattern=r"^[A-Z][A-Z0-9_]*$")
    issue_type: str = Field("Task", min_length=1, max_length=100)
    labels: list[str] = Field(default_factory=lambda: ["vms"], max_length=20)


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
        self._token = secret or ""

    async def send(self, message: Outgoing, timeout_s: float) -> str:
        cfg = self.config
        auth = base64.b64encode(f"{cfg.email}:{self._token}".encode()).decode()
        headers = {"Authorization": f"Basic {auth}", "Accept": "application/json"}
        url = f"{cfg.base_url.rstrip('/')}/rest/api/3/issue"
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session, \
                    session.post(url, json=issue_body(cfg, message), headers=headers) as resp:
                status = resp.status
                body: dict[str, Any] = await resp.json(content_type=None) if status != 204 else {}
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ChannelError(f"Jira unreachable: {type(exc).__name__}: {exc}") from None
        if status == 201:
            return f"jira {body.get('key', '?')}"
        fields = (f"{k}: {v}" for k, v in body.get("errors", {}).items())
        problems = "; ".join([*body.get("errorMessages", []), *fields])
        raise ChannelError(f"Jira {status}: {problems[:200]}", permanent=400 <= status < 500 and status != 429)
