"""Notification tests run the real app with the worker polling fast and an escalation 'minute' of a fraction of
a second, so chains advance in seconds without any test depending on a tight timing threshold."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.server.helpers import ApiClient
from tests.server.notifications.servers import Receiver
from vms_server import keys
from vms_server.analytics.types import Priority
from vms_server.audit.service import SYSTEM
from vms_server.cameras.models import Camera
from vms_server.events.service import NewEvent, create_event
from vms_server.events.sink import CreatedEvent
from vms_server.notifications.keys import NOTIFIER
from vms_server.settings import Settings

FAST = {"poll_interval_s": 0.05, "minute_s": 0.5, "backoff_base_s": 0.1, "backoff_max_s": 0.5,
        "max_attempts": 3, "send_timeout_s": 10}


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path / "data", db_url, notifications=FAST)


async def wait_for(check: Callable[[], Awaitable[bool]] | Callable[[], bool], limit_s: float = 20.0) -> None:
    """Poll until `check` holds; generous limits because CI shares two loaded cores."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def add_camera(api: ApiClient, name: str = "Gate") -> uuid.UUID:
    app = api.client.app
    camera_id = uuid.uuid4()
    async with app[keys.SESSIONS].begin() as session:
        # Disabled: ingest leaves it alone (it has no streams); events still name it.
        session.add(Camera(id=camera_id, customer_id=api.seeded.customer_id, site_id=api.seeded.site_id, name=name,
                           enabled=False))
    return camera_id


async def raise_event(api: ApiClient, camera_id: uuid.UUID, event_type: str = "intrusion",
                      priority: Priority = Priority.HIGH, snapshot: str | None = None, *,
                      announce: bool = True) -> uuid.UUID:
    """Store an event the way the EventSink does and announce it to the notification subscriber (unless
    `announce` is False: a server that died between storing and announcing)."""
    app = api.client.app
    event_id = uuid.uuid4()
    now = dt.datetime.now(dt.UTC)
    new = NewEvent(event_id, api.seeded.customer_id, camera_id, api.seeded.site_id, event_type, event_type, 0.9,
                   now, None, "person", None, priority, {}, snapshot)
    async with app[keys.SESSIONS].begin() as session:
        await create_event(session, new, SYSTEM)
    if announce:
        app[NOTIFIER].on_event(CreatedEvent(event_id, camera_id, event_type, now))
    return event_id


async def messages(api: ApiClient, **query: Any) -> list[dict[str, Any]]:
    params = {k: str(v) for k, v in query.items()}
    body = await api.ok("GET", "/api/v1/notifications/messages", params=params)
    items: list[dict[str, Any]] = body["items"]
    return items


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver(secret="hook-secret-1")
    await rec.start()
    yield rec
    await rec.stop()


async def webhook_channel(api: ApiClient, receiver: Receiver, secret: str | None = None, name: str = "hook"
                          ) -> str:
    body = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
        "name": name, "kind": "webhook", "config": {"url": f"http://127.0.0.1:{receiver.port}/hook"},
        "secret": secret or receiver.secret})
    return str(body["id"])


async def rule(api: ApiClient, channel_ids: list[str], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = await api.ok("POST", "/api/v1/notifications/rules", status=201,
                                        json={"name": fields.pop("name", "rule"), "channel_ids": channel_ids,
                                              **fields})
    return body
