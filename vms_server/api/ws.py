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

from vms_common.api import parsing
from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.principal import Principal
from vms_common.auth.roles import Role
from vms_common.errors import InvalidInput
from vms_server.api.keys import HUB, STREAMS
from vms_server.auth.principal import login_principal

logger = logging.getLogger(__name__)
router = ApiRouter()
QUEUE_LIMIT = 1000
RECHECK_S = 30.0
SESSION_ENDED = 4401
"""Close code when the login behind a socket ends (logout, revocation, expiry, user disabled): log in again."""


@dataclass(eq=False)
class Subscriber:
    principal: Principal
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    prefixes: tuple[str, ...] = ("",)
    overflowed: bool = False
    recheck: asyncio.Event = field(default_factory=asyncio.Event)

    def wants(self, kind: str, site_id: uuid.UUID | None, min_role: Role = Role.VIEWER) -> bool:
        if site_id is not None and not self.principal.can_see_site(site_id):
            return False
        if not self.principal.role.at_least(min_role):
            return False
        return kind.startswith(self.prefixes)


class Hub:
    def __init__(self, recheck_s: float = RECHECK_S) -> None:
        self._subscribers: set[Subscriber] = set()
        self.recheck_s = recheck_s
        # A cluster node: also hands each published message to the other nodes (cluster/relay.py).
        self.relay: Callable[[str, dict[str, Any], uuid.UUID | None, Role], None] | None = None
        """How often each socket re-checks its login even when nothing signalled a change (expiry, other nodes)."""

    def recheck(self, user_id: uuid.UUID | None = None) -> None:
        """Make the sockets of a user (None: of everyone) re-check their login now: after a logout, a revocation
        or a change of the user's role, sites or state."""
        for sub in list(self._subscribers):
            if user_id is None or sub.principal.user_id == user_id:
                sub.recheck.set()

    @property
    def client_count(self) -> int:
        return len(self._subscribers)

    def publish(self, kind: str, payload: dict[str, Any], *, site_id: uuid.UUID | None = None,
                min_role: Role = Role.VIEWER) -> int:
        """Queue a message for every interested client (of this node, and through `relay` of the other nodes of
        a cluster); returns how many got it here. Never blocks.

        `site_id` limits it to users who may see that site, `min_role` to users of at least that role (service
        health is the business of supervisors, not of every operator).
        """
        if self.relay is not None:
            self.relay(kind, payload, site_id, min_role)
        return self.deliver(kind, payload, site_id=site_id, min_role=min_role)

    def deliver(self, kind: str, payload: dict[str, Any], *, site_id: uuid.UUID | None = None,
                min_role: Role = Role.VIEWER) -> int:
        """`publish` to this node's clients only (what a relay calls with another node's messages)."""
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


async def _watch(ws: web.WebSocketResponse, sub: Subscriber, hub: Hub, probe: web.Request) -> None:
    """Re-check the socket's login on a timer and when signalled; close the socket once the login has ended.

    A socket authenticates once at the upgrade; without this, pushes went on after logout, expiry or disabling.
    What is re-checked is the login (revoked, its refresh token run out, the user disabled), not the access
    token of the upgrade, which runs out after minutes while the login goes on. A passing check takes the user's
    current role and sites, so a narrowed user stops getting other sites' pushes.
    """
    while not ws.closed:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sub.recheck.wait(), hub.recheck_s)
        sub.recheck.clear()
        try:
            principal = await login_principal(probe.app, sub.principal.user_id, sub.principal.family_id)
        except Exception:  # a database hiccup must not end every console's session; the next round retries
            logger.warning("websocket login re-check failed", exc_info=True)
            continue
        if principal is None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(json.dumps({"type": "session.ended", "data": {
                    "reason": "the login ended (logout, revoked, expired or account disabled); log in again"}}))
            await ws.close(code=SESSION_ENDED, message=b"login ended; log in again")
            return
        sub.principal = principal


async def _read(ws: web.WebSocketResponse, sub: Subscriber) -> None:
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        try:
            wanted = parsing.loads(msg.data.encode()).get("subscribe")
        except (InvalidInput, AttributeError):
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
    probe = request.clone()  # the token, kept to re-authenticate while the socket is open
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    hub = request.app[HUB]
    sub = Subscriber(principal)
    hub.add(sub)
    await ws.send_str(json.dumps({"type": "hello", "data": {"user": principal.username}}))
    tasks = [asyncio.create_task(_pump(ws, sub)), asyncio.create_task(_watch(ws, sub, hub, probe))]
    try:
        with request.app[STREAMS].socket(ws):
            await _read(ws, sub)
    finally:
        hub.remove(sub)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return ws


async def hub_context(app: web.Application) -> AsyncIterator[None]:
    app[HUB] = Hub()
    yield
