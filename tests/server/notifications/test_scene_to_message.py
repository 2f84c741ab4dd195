"""From a simulator scene to a message received: a simulated camera streams its scene over RTSP, the server
ingests it, the motion model raises a real event, and the notification rule (recipient: a user, reached at the
contact address the user set, in the user's language) delivers it to the SMTP server (with the event's
snapshot) and to a subscriber on the local Mosquitto broker. No part of the path is stood in for."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings, seed
from tests.server.analytics.test_pipeline_e2e import LOOP, sim  # noqa: F401 - the 'gate' camera, TAMPER scene
from tests.server.helpers import ApiClient
from tests.server.notifications.conftest import FAST, wait_for
from tests.server.notifications.servers import MqttSubscriber, self_signed, start_smtp
from vms_camsim import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server.app import create_app

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")]


@pytest.fixture
async def api_fast(tmp_path: Path, db_url: str, aiohttp_client: Any) -> AsyncIterator[ApiClient]:
    """The real app with short analytics jobs (2 s) and a fast notification worker."""
    settings = make_settings(tmp_path / "data", db_url, analytics={"segment_s": 2.0}, notifications=FAST)
    seeded = await seed(settings)
    yield ApiClient(await aiohttp_client(create_app(settings)), seeded)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_scene_event_reaches_smtp_and_mqtt(api_fast: ApiClient, sim: SimulatorHandle,  # noqa: F811
                                                   tmp_path: Path) -> None:
    api = api_fast
    cert, key = self_signed(tmp_path)
    smtp = start_smtp(cert, key, implicit_tls=False)
    prefix = f"vmsscene-{api.seeded.customer_id.hex[:8]}"
    subscriber = MqttSubscriber(prefix)
    await subscriber.start()
    try:
        await api.ok("PUT", "/api/v1/notifications/contacts/me", role=Role.SUPERVISOR,
                     json={"email": "night.guard@example.org", "language": "de"})
        me = await api.ok("GET", "/api/v1/notifications/contacts/me", role=Role.SUPERVISOR)
        mail = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
            "name": "mail", "kind": "email", "secret": "s3cret",
            "config": {"host": "127.0.0.1", "port": smtp.port, "security": "starttls", "username": "vms",
                       "from_addr": "vms@example.org", "ca_file": str(cert)}})
        broker = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
            "name": "mqtt", "kind": "mqtt", "config": {"host": "127.0.0.1", "port": 1883, "prefix": prefix}})
        await api.ok("POST", "/api/v1/notifications/rules", status=201, json={
            "name": "motion at the gate", "event_types": ["motion"], "channel_ids": [mail["id"], broker["id"]],
            "recipients": [f"user:{me['user_id']}"], "group_window_s": 0})
        camera = await api.ok("POST", "/api/v1/cameras", status=201, json={
            "name": "gate", "site_id": str(api.seeded.site_id), "streams": [
                {"role": "main", "rtsp_url": sim.rtsp_url("gate", "main"), "width": 640, "height": 480,
                 "bitrate_kbps": 1200, "fps": 15}]})
        await api.ok("PUT", f"/api/v1/cameras/{camera['id']}/analytics/motion",
                     json={"enabled": True, "confidence": 0.5})
        started = time.monotonic()

        def on_mqtt() -> list[dict[str, Any]]:
            return [json.loads(b) for t, b, _ in subscriber.messages if t == f"{prefix}/events"]

        # Two loops of the scene at most, on a loaded machine: generous, and it ends as soon as both arrive.
        await wait_for(lambda: bool(smtp.mailbox.messages) and bool(on_mqtt()), limit_s=3 * LOOP + 30)
        events = (await api.ok("GET", "/api/v1/events?limit=50", Role.VIEWER))["items"]
        raised = {e["id"]: e for e in events if e["event_type"] == "motion"}
        published = on_mqtt()[0]
        assert published["event_type"] == "motion" and published["event_id"] in raised
        assert published["camera_name"] == "gate"
        message = smtp.mailbox.messages[0]
        assert smtp.mailbox.rcpts[0] == ["night.guard@example.org"]
        assert "Bewegung bei gate" in message["Subject"]  # the user's language
        text = message.get_body(preferencelist=("plain",))
        assert text is not None and any(f"/events/{e}" in text.get_content() for e in raised)
        assert [a.get_filename() for a in message.iter_attachments()] == ["snapshot.jpg"]
        logged = time.monotonic() - started
        print(f"scene -> SMTP and MQTT in {logged:.1f} s")  # the figure the report quotes
    finally:
        await subscriber.stop()
        smtp.controller.stop()
        await asyncio.sleep(0)
