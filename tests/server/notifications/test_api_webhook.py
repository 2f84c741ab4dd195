"""Channels and rules through the API; webhook delivery with signature, retries, dead letters and test-send."""

from __future__ import annotations

from sqlalchemy import select

from tests.server.helpers import ApiClient
from tests.server.notifications.conftest import (
    add_camera,
    messages,
    raise_event,
    rule,
    wait_for,
    webhook_channel,
)
from tests.server.notifications.servers import Receiver
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.analytics.types import Priority
from vms_server.notifications.models import NotifyChannel


async def test_channel_secret_is_sealed_and_never_returned(api: ApiClient, receiver: Receiver) -> None:
    channel_id = await webhook_channel(api, receiver)
    listed = await api.ok("GET", "/api/v1/notifications/channels", role=Role.SUPERVISOR)
    text = str(listed)
    assert receiver.secret not in text and listed["items"][0]["has_secret"] is True
    async with api.client.app[keys.SESSIONS]() as session:
        row = (await session.scalars(select(NotifyChannel))).one()
    assert row.secret_sealed and receiver.secret not in row.secret_sealed
    assert api.client.app[keys.SECRET_BOX].open(row.secret_sealed) == receiver.secret
    # Only admins change channels; a bad configuration is a clear 422 naming the field.
    resp = await api.call("POST", "/api/v1/notifications/channels", Role.SUPERVISOR,
                          json={"name": "x", "kind": "webhook", "config": {"url": "http://a"}})
    assert resp.status == 403
    resp = await api.call("POST", "/api/v1/notifications/channels",
                          json={"name": "x", "kind": "email", "config": {"host": "smtp", "port": 99999}})
    assert resp.status == 422 and "port" in await resp.text()
    resp = await api.call("POST", "/api/v1/notifications/rules", Role.SUPERVISOR,
                          json={"name": "r", "channel_ids": ["00000000-0000-0000-0000-000000000001"]})
    assert resp.status == 422 and "unknown channel" in await resp.text()
    patched = await api.ok("PATCH", f"/api/v1/notifications/channels/{channel_id}", json={"secret": ""})
    assert patched["has_secret"] is False


async def test_webhook_delivery_signed_retried_and_dead_lettered(api: ApiClient, receiver: Receiver) -> None:
    camera = await add_camera(api)
    good = await webhook_channel(api, receiver)
    await rule(api, [good], event_types=["intrusion"])
    receiver.fail_next = 1  # the first try gets a 503: retried with back-off, delivered on the second
    event_id = await raise_event(api, camera)
    await raise_event(api, camera, event_type="loitering")  # no rule matches: nothing sent
    await wait_for(lambda: len(receiver.received) == 1)
    body = receiver.received[0]["body"]
    assert body["event_id"] == str(event_id) and body["camera_name"] == "Gate" and body["priority"] == "HIGH"
    assert "_snapshot" not in body and body["url"].endswith(str(event_id))
    await wait_for(lambda: _status(api, None, "SENT"))  # the receiver answers before the worker records it
    sent = await messages(api, event_id=event_id)
    assert [(m["status"], m["attempts"]) for m in sent] == [("SENT", 2)]
    assert receiver.received[0]["delivery"] == sent[0]["id"]

    # A wrong secret: the receiver answers 401, which no retry can fix: straight to the dead-letter list.
    bad = await webhook_channel(api, receiver, secret="wrong", name="bad hook")
    await rule(api, [bad], name="second", event_types=["fire_smoke"])
    await raise_event(api, camera, event_type="fire_smoke", priority=Priority.CRITICAL)
    await wait_for(lambda: receiver.rejected == 1)
    await wait_for(lambda: _dead(api))
    dead = await messages(api, status="DEAD")
    assert len(dead) == 1 and "401" in dead[0]["last_error"] and dead[0]["attempts"] == 1
    # Fix the secret, retry the dead letter: delivered once.
    await api.ok("PATCH", f"/api/v1/notifications/channels/{bad}", json={"secret": receiver.secret})
    again = await api.ok("POST", f"/api/v1/notifications/messages/{dead[0]['id']}/retry", role=Role.SUPERVISOR)
    assert again["status"] == "PENDING"
    await wait_for(lambda: len(receiver.received) == 2)
    resp = await api.call("POST", f"/api/v1/notifications/messages/{dead[0]['id']}/retry")
    await wait_for(lambda: _status(api, dead[0]["id"], "SENT"))
    assert (await api.call("POST", f"/api/v1/notifications/messages/{dead[0]['id']}/retry")).status == 409
    assert resp.status in (200, 409)


async def _dead(api: ApiClient) -> bool:
    return len(await messages(api, status="DEAD")) == 1


async def _status(api: ApiClient, message_id: str | None, status: str) -> bool:
    return any(message_id in (None, m["id"]) and m["status"] == status for m in await messages(api))


async def test_test_send_reports_the_outcome(api: ApiClient, receiver: Receiver) -> None:
    channel_id = await webhook_channel(api, receiver)
    out = await api.ok("POST", f"/api/v1/notifications/channels/{channel_id}/test", json={})
    assert out["status"] == "SENT" and out["kind"] == "test"
    assert receiver.received[-1]["body"]["type"] == "test"
    receiver.fail_next = 1
    out = await api.ok("POST", f"/api/v1/notifications/channels/{channel_id}/test", json={})
    assert out["status"] == "DEAD" and "503" in out["last_error"]
    assert (await api.call("POST", f"/api/v1/notifications/channels/{channel_id}/test", Role.SUPERVISOR,
                           json={})).status == 403
