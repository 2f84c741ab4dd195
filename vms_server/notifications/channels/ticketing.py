"""The HTTP exchange the ticketing connectors share: a JSON POST with basic authentication, answered by JSON.

Jira and ServiceNow differ in their bodies and in how they name what they made or why they refused; how they
are reached, and what "unreachable" means for the retry policy, is the same, so it is written once here."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp

from vms_server.notifications.channels.base import ChannelError


async def post_json(service: str, url: str, user: str, password: str, body: dict[str, Any] | None,
                    timeout_s: float, method: str = "POST") -> tuple[int, dict[str, Any]]:
    """(status, JSON answer) of the request (a POST with `body`, or a GET to read a ticket back). Raises
    ChannelError (retryable) when the service cannot be reached or answers something that is not JSON."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session, \
                session.request(method, url, json=body, headers=headers) as resp:
            status = resp.status
            answer: dict[str, Any] = await resp.json(content_type=None) if status != 204 else {}
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise ChannelError(f"{service} unreachable: {type(exc).__name__}: {exc}") from None
    return status, answer or {}


def refused(service: str, status: int, detail: str) -> ChannelError:
    """A refusal: a 4xx other than 429 will not change on a retry (dead-letter at once); the rest may."""
    return ChannelError(f"{service} {status}: {detail[:200]}", permanent=400 <= status < 500 and status != 429)
