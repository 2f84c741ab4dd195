"""The issue's scenario through the real EventSink: an intrusion at night; quiet hours hold the STANDARD event
back while the CRITICAL one goes out by e-mail (with its snapshot), webhook (signature verified) and MQTT; nobody
acknowledges, so the chain reaches the supervisor, then on-call (SMS) with a Jira issue; the server restarts in
the middle; acknowledging stops the chain. Nothing is sent twice or lost."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from tests.server.helpers import ApiClient
from tests.server.notifications.conftest import add_camera, wait_for, webhook_channel
from tests.server.notifications.servers import MqttSubscriber, Receiver, self_signed, start_smtp
from vms_server import keys
from vms_server.analytics.correlation import OpenEvent
from vms_server.analytics.types import CameraRef, Detection, Priority
from vms_server.app import create_app
from vms_server.audit.service import SYSTEM
from vms_server.config.keys import CONFIG
from vms_server.events.keys import EVENTS
from vms_server.notifications.models import NotifyMessage
from vms_server.notifications.quiet import zone
from vms_server.org.models import Site

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


async def _raise(app: Any, ref: CameraRef, priority: Priority) -> uuid.UUID:
    """What analytics does: the sink stores the event, writes its snapshot and tells its subscribers."""
    frame = np.zeros((48, 64, 3), dtype=np.uint8)
    now = time.time()
    det = Detection(model="intrusion", event_type="intrusion", ts=now, confidence=0.91, object_class="person",
                    frame=frame)
    event = OpenEvent(ref.camera_id, "intrusion", "k", "intrusion", now, now, det, None)
    event_id: uuid.UUID = await app[EVENTS].started(ref, priority, event)
    return event_id


async def test_night_intrusion_end_to_end(api: ApiClient, receiver: Receiver, aiohttp_client: Any,
                                          tmp_path: Path) -> None:
    app = api.client.app
    seeded = api.seeded
    cert, key = self_signed(tmp_path)
    smtp = start_smtp(cert, key, implicit_tls=False)
    prefix = f"vmse2e-{seeded.customer_id.hex[:8]}"
    subscriber = MqttSubscriber(prefix)
    await subscriber.start()
    try:
        # Night at the site: quiet hours around now in the site's zone, CRITICAL allowed through.
        async with app[keys.SESSIONS].begin() as session:
            site = await session.get(Site, seeded.site_id)
            assert site is not None
            site.timezone = "America/New_York"
        local = dt.datetime.now(zone("America/New_York"))
        await app[CONFIG].set_values("site", seeded.site_id, None, {
            "notifications.quiet_hours.enabled": True,
            "notifications.quiet_hours.start": (local - dt.timedelta(hours=2)).time().isoformat("minutes"),
            "notifications.quiet_hours.end": (local + dt.timedelta(hours=2)).time().isoformat("minutes")}, SYSTEM)
        mail = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
            "name": "mail", "kind": "email", "secret": "s3cret",
            "config": {"host": "127.0.0.1", "port": smtp.port, "security": "starttls", "username": "vms",
                       "from_addr": "vms@example.org", "ca_file": str(cert)}})
        hook = await webhook_channel(api, receiver)
        broker = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
            "name": "mqtt", "kind": "mqtt", "config": {"host": "127.0.0.1", "port": 1883, "prefix": prefix}})
        sms = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
            "name": "sms", "kind": "sms", "secret": "token-1",
            "config": {"base_url": f"http://127.0.0.1:{receiver.port}", "account_sid": "AC1",
                       "from_number": "+15005550006"}})
        jira = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
            "name": "jira", "kind": "jira", "secret": "jira-token",
            "config": {"base_url": f"http://127.0.0.1:{receiver.port}", "email": "vms@example.org",
                       "project_key": "SEC"}})
        await api.ok("POST", "/api/v1/notifications/rules", status=201, json={
            "name": "intrusion", "event_types": ["intrusion"], "channel_ids": [mail["id"], hook, broker["id"]],
            "recipients": ["guard@example.org"], "escalation": [
                {"name": "supervisor", "after_minutes": 2, "channel_ids": [mail["id"]],
                 "recipients": ["supervisor@example.org"]},
                {"name": "on-call", "after_minutes": 2, "channel_ids": [sms["id"], jira["id"]],
                 "recipients": ["+15550000002"]},
                {"name": "manager", "after_minutes": 120, "channel_ids": [sms["id"]],
                 "recipients": ["+15550000003"]}]})
        camera = await add_camera(api, "Perimeter")
        ref = CameraRef(camera, seeded.customer_id, seeded.site_id)
        standard = await _raise(app, ref, Priority.STANDARD)
        critical = await _raise(app, ref, Priority.CRITICAL)

        await wait_for(lambda: len(smtp.mailbox.messages) >= 1 and len(receiver.received) >= 1
                       and any(t == f"{prefix}/events" for t, _, _ in subscriber.messages))
        first = smtp.mailbox.messages[0]
        assert smtp.mailbox.rcpts[0] == ["guard@example.org"]
        assert [a.get_filename() for a in first.iter_attachments()] == ["snapshot.jpg"]
        assert receiver.received[0]["body"]["event_id"] == str(critical)  # signature verified by the receiver
        events_on_mqtt = [json.loads(b) for t, b, _ in subscriber.messages if t == f"{prefix}/events"]
        assert [e["event_id"] for e in events_on_mqtt] == [str(critical)]

        # Restart in the middle: the supervisor level is due in about a second.
        tokens = api._tokens
        await api.client.close()
        second = ApiClient(await aiohttp_client(create_app(app[keys.SETTINGS])), seeded)
        second._tokens = tokens  # access tokens survive the restart (same master key)

        # supervisor mail, then on-call SMS and a Jira issue
        await wait_for(lambda: len(receiver.sms) >= 1 and len(receiver.issues) >= 1)
        assert smtp.mailbox.rcpts[1] == ["supervisor@example.org"]
        assert receiver.sms[0]["To"] == "+15550000002"
        assert receiver.issues[0]["project"] == {"key": "SEC"}
        await second.ok("POST", f"/api/v1/events/{critical}/status", json={"status": "ACKNOWLEDGED"})
        chains = await second.ok("GET", f"/api/v1/notifications/events/{critical}/escalations")

        async def stopped() -> bool:
            body = await second.ok("GET", f"/api/v1/notifications/events/{critical}/escalations")
            return [c["state"] for c in body["items"]] == ["STOPPED"]

        await wait_for(stopped)
        assert chains["items"][0]["level"] == 2  # supervisor and on-call notified, the manager never
        event = await second.ok("GET", f"/api/v1/events/{critical}")
        assert [n["text"].split(":")[0] for n in event["notes"]] == [
            "Escalated to level 1 (supervisor)", "Escalated to level 2 (on-call)"]

        async with second.client.app[keys.SESSIONS]() as session:
            rows = (await session.scalars(select(NotifyMessage))).all()
        held = [r for r in rows if r.event_id == standard]
        assert held and all(r.status == "PENDING" and r.held_reason == "quiet_hours" for r in held)
        assert len(smtp.mailbox.messages) == 2 and len(receiver.received) == 1 and len(receiver.sms) == 1
        assert len(receiver.issues) == 1
        ids = [m["Message-ID"] for m in smtp.mailbox.messages]
        assert len(set(ids)) == len(ids)
    finally:
        await subscriber.stop()
        smtp.controller.stop()
