"""`/api/v1/ws`: one WebSocket per client for pushed events, incidents and camera status.

Publishers call `Hub.publish(kind, payload, site_id=...)`; the hub fans out to connected clients whose
user may see that site (None: every authenticated user). Clients subscribe to kinds by prefix
(`{"subscribe": ["event.", "camera."]}`); by default they get everything. A slow client gets a bounded
queue and is disconnected when it overflows, so one stuck operator console cannot stall the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.principal import Principal
from vms_common.auth.roles import Role
from vms_server.api.keys import HUB, STREAMS

logger = logging.getLogger(__name__)
router = ApiRouter()
QUEUE_LIMIT = 1000


@dataclass(eq=False)
class Subscriber:
    principal: Principal
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    prefixes: tuple[str, ...] = ("",)
    overflowed: bool = False

    def wants(self, kind: str, site_id: uuid.UUID | None, min_role: Role = Role.VIEWER) -> bool:
        if site_id is not None and not self.principal.can_see_site(site_id):
            return False
        if not self.principal.role.at_least(min_role):
            return False
        return kind.startswith(self.prefixes)


class Hub:
    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()

    @property
    def client_count(self) -> int:
        return len(self._subscribers)

    def publish(self, kind: str, payload: dict[str, Any], *, site_id: uuid.UUID | None = None,
                min_role: Role = Role.VIEWER) -> int:
        """Queue a message for every interested client; returns how many got it. Never blocks.

        `site_id` limits it to users who may see that site, `min_role` to users of at least that role (service
        health is the business of supervisors, not of every operator).
        """
        text = json.dumps({"type": kind, "data": payload}, default=str)
        return self.publish_each(kind, lambda _: text, min_role=min_role, site_id=site_id)

    def publish_each(self, kind: str, render: Callable[[Principal], str | dict[str, Any] | None], *,
                     site_id: uuid.UUID | None = None, min_role: Role = Role.VIEWER) -> int:
        """Like `publish`, with the payload made per user by `render` (None: that user gets nothing), for
        messages that name several sites and must show each user only the parts of their own sites."""
        delivered = 0
        for sub in list(self._subscribers):
            if not sub.wants(kind, site_id, min_role):
                continue
            body = render(sub.principal)
            if body is None:
                continue
            text = body if isinstance(body, str) else json.dumps({"type": kind, "data": body}, default=str)
            try:
                sub.queue.put_nowait(text)
                delivered += 1
            except asyncio.QueueFull:
                sub.overflowed = True
        return delivered

    def add(self, sub: Subscriber) -> None:
        self._subscribers.add(sub)

    def remove(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)


async def _pump(ws: web.WebSocketResponse, sub: Subscriber) -> None:
    while not ws.closed:
        message = await sub.queue.get()
        if sub.overflowed:
            await ws.close(code=1013, message=b"client too slow; reconnect")
            return
        await ws.send_str(message)


async def _read(ws: web.WebSocketResponse, sub: Subscriber) -> None:
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        try:
            wanted = json.loads(msg.data).get("subscribe")
        except (json.JSONDecodeError, AttributeError):
            await ws.send_str(json.dumps({"type": "error", "data": {"message": "expected JSON object"}}))
            continue
        if isinstance(wanted, list) and all(isinstance(p, str) for p in wanted):
            sub.prefixes = tuple(wanted) or ("",)
            await ws.send_str(json.dumps({"type": "subscribed", "data": {"prefixes": list(sub.prefixes)}}))


class SocketQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    access_token: str | None = Field(None, description="For browsers, which cannot set WebSocket headers")


@router.route("GET", "/ws", role=Role.VIEWER, query=SocketQuery, media_type="application/json", query_token=True,
              tags=["events"], errors=(422,))
async def websocket(call: Call[NoBody]) -> web.StreamResponse:
    """Push channel over a WebSocket (send `Upgrade: websocket`): JSON messages `{"type", "data"}` for events,
    camera status, incidents and configuration changes, filtered to the caller's sites. Send
    `{"subscribe": ["event.", "camera."]}` to receive only some types."""
    request = call.request
    call.query(SocketQuery)
    principal = call.user
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    hub = request.app[HUB]
    sub = Subscriber(principal)
    hub.add(sub)
    await ws.send_str(json.dumps({"type": "hello", "data": {"user": principal.username}}))
    pump = asyncio.create_task(_pump(ws, sub))
    try:
        with request.app[STREAMS].socket(ws):
            await _read(ws, sub)
    finally:
        hub.remove(sub)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
    return ws


async def hub_context(app: web.Application) -> AsyncIterator[None]:
    app[HUB] = Hub()
    yield
