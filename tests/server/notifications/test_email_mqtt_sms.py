"""E-mail against a real SMTP server (STARTTLS and implicit TLS, login, snapshot attached), MQTT against the
local Mosquitto broker (event topics, retained availability), SMS against a Twilio-format test server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.helpers import ApiClient
from tests.server.notifications.conftest import add_camera, messages, raise_event, rule, wait_for
from tests.server.notifications.servers import MqttSubscriber, Receiver, SmtpServer, self_signed, start_smtp
from vms_server.analytics.types import Priority
from vms_server.notifications.keys import NOTIFIER

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200 + b"\xff\xd9"


@pytest.fixture(params=["starttls", "tls"])
def smtp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SmtpServer, str, Path]]:
    cert, key = self_signed(tmp_path)
    server = start_smtp(cert, key, implicit_tls=request.param == "tls")
    yield server, request.param, cert
    server.controller.stop()


async def test_email_with_snapshot_and_link(api: ApiClient, smtp: tuple[SmtpServer, str, Path],
                                            tmp_path: Path) -> None:
    server, security, cert = smtp
    channel = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
        "name": "mail", "kind": "email", "secret": "s3cret",
        "config": {"host": "127.0.0.1", "port": server.port, "security": security, "username": "vms",
                   "from_addr": "vms@example.org", "ca_file": str(cert)}})
    await rule(api, [channel["id"]], recipients=["guard@example.org"], priorities=["CRITICAL"])
    snapshot = tmp_path / "snap.jpg"
    snapshot.write_bytes(JPEG)
    camera = await add_camera(api, "Loading bay")
    event_id = await raise_event(api, camera, "fire_smoke", Priority.CRITICAL, snapshot=str(snapshot))
    await raise_event(api, camera, "fire_smoke", Priority.HIGH)  # the rule wants CRITICAL only
    await wait_for(lambda: len(server.mailbox.messages) == 1)
    mail = server.mailbox.messages[0]
    assert server.mailbox.rcpts[0] == ["guard@example.org"]
    assert "fire smoke" in mail["Subject"] and "Loading bay" in mail["Subject"]
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert f"/events/{event_id}" in text.get_content() and "<a href=" in html.get_content()
    attachments = list(mail.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["snapshot.jpg"]
    assert attachments[0].get_content() == JPEG
    await wait_for(lambda: _statuses(api, event_id, ["SENT"]))  # recorded just after the server took it


async def test_email_wrong_password_is_a_dead_letter(api: ApiClient, smtp: tuple[SmtpServer, str, Path]) -> None:
    server, security, cert = smtp
    channel = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
        "name": "mail", "kind": "email", "secret": "wrong",
        "config": {"host": "127.0.0.1", "port": server.port, "security": security, "username": "vms",
                   "from_addr": "vms@example.org", "ca_file": str(cert)}})
    out = await api.ok("POST", f"/api/v1/notifications/channels/{channel['id']}/test",
                       json={"recipient": "guard@example.org"})
    assert out["status"] == "DEAD" and "login refused" in out["last_error"] and "wrong" not in out["last_error"]
    assert server.mailbox.messages == []


async def test_mqtt_events_and_retained_availability(api: ApiClient) -> None:
    prefix = f"vmstest-{api.seeded.customer_id.hex[:8]}"
    subscriber = MqttSubscriber(prefix)
    await subscriber.start()
    try:
        channel = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
            "name": "broker", "kind": "mqtt", "config": {"host": "127.0.0.1", "port": 1883, "prefix": prefix}})
        await rule(api, [channel["id"]])
        camera = await add_camera(api)
        event_id = await raise_event(api, camera)
        await api.client.app[NOTIFIER].camera_availability(api.seeded.customer_id, camera, online=False)
        await wait_for(lambda: len(subscriber.messages) >= 4)
        topics = {topic: (body, retain) for topic, body, retain in subscriber.messages}
        assert json.loads(topics[f"{prefix}/events"][0])["event_id"] == str(event_id)
        assert json.loads(topics[f"{prefix}/cameras/{camera}/events"][0])["event_type"] == "intrusion"
        assert topics[f"{prefix}/available"][0] == b"online"
        await wait_for(lambda: f"{prefix}/cameras/{camera}/availability" in
                       {t for t, _, _ in subscriber.messages})
    finally:
        await subscriber.stop()
    # Retained: a subscriber that connects later still learns the camera is offline.
    late = MqttSubscriber(f"{prefix}/cameras")
    await late.start()
    try:
        await wait_for(lambda: any(t.endswith("/availability") for t, _, _ in late.messages))
        _topic, body, retain = next(m for m in late.messages if m[0].endswith("/availability"))
        assert body == b"offline" and retain is True
    finally:
        await late.stop()


async def test_sms_through_twilio_messages_api(api: ApiClient, receiver: Receiver) -> None:
    channel = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
        "name": "sms", "kind": "sms", "secret": "token-1",
        "config": {"base_url": f"http://127.0.0.1:{receiver.port}", "account_sid": "AC123",
                   "from_number": "+15005550006"}})
    await rule(api, [channel["id"]], recipients=["+15551230001", "not-a-number"])
    camera = await add_camera(api)
    event_id = await raise_event(api, camera, priority=Priority.CRITICAL)
    await wait_for(lambda: len(receiver.sms) == 1)
    assert receiver.sms[0]["To"] == "+15551230001" and receiver.sms[0]["From"] == "+15005550006"
    assert "intrusion" in receiver.sms[0]["Body"]
    await wait_for(lambda: _statuses(api, event_id, ["DEAD", "SENT"]))
    dead = [m for m in await messages(api, event_id=event_id) if m["status"] == "DEAD"]
    assert "21211" in dead[0]["last_error"] and dead[0]["attempts"] == 1  # a 400 is not retried


async def test_escalation_opens_a_jira_issue(api: ApiClient, receiver: Receiver) -> None:
    jira = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
        "name": "jira", "kind": "jira", "secret": "jira-token",
        "config": {"base_url": f"http://127.0.0.1:{receiver.port}", "email": "vms@example.org",
                   "project_key": "SEC"}})
    assert "jira-token" not in str(jira)
    hook = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
        "name": "hook", "kind": "webhook", "secret": receiver.secret,
        "config": {"url": f"http://127.0.0.1:{receiver.port}/hook"}})
    await rule(api, [hook["id"]], escalation=[{"name": "ticket", "after_minutes": 1, "channel_ids": [jira["id"]]}])
    event_id = await raise_event(api, await add_camera(api, "Fence"), priority=Priority.CRITICAL)
    await wait_for(lambda: len(receiver.issues) == 1)
    issue = receiver.issues[0]
    assert issue["project"] == {"key": "SEC"} and issue["issuetype"] == {"name": "Task"}
    assert "intrusion at Fence" in issue["summary"] and "escalation level 1" in issue["summary"]
    assert str(event_id) in str(issue["description"])  # the link to the event
    await wait_for(lambda: _statuses(api, event_id, ["SENT", "SENT"]))
    receipts = {m["receipt"] for m in await messages(api, event_id=event_id)}
    assert "jira SEC-101" in receipts
    # A wrong token: Jira's 401 is a dead letter, named in the record.
    await api.ok("PATCH", f"/api/v1/notifications/channels/{jira['id']}", json={"secret": "old"})
    out = await api.ok("POST", f"/api/v1/notifications/channels/{jira['id']}/test", json={})
    assert out["status"] == "DEAD" and "not authenticated" in out["last_error"]


async def test_critical_event_opens_a_servicenow_incident(api: ApiClient, receiver: Receiver) -> None:
    snow = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
        "name": "snow", "kind": "servicenow", "secret": "snow-pass",
        "config": {"instance_url": f"http://127.0.0.1:{receiver.port}", "username": "vms.integration",
                   "assignment_group": "Security Ops"}})
    await rule(api, [snow["id"]], priorities=["CRITICAL"])
    event_id = await raise_event(api, await add_camera(api, "Vault"), "fire_smoke", Priority.CRITICAL)
    await wait_for(lambda: _statuses(api, event_id, ["SENT"]))
    [incident] = receiver.incidents
    assert incident["urgency"] == "1" and incident["impact"] == "1"
    assert incident["correlation_id"] == str(event_id) and incident["assignment_group"] == "Security Ops"
    assert "fire smoke at Vault" in incident["short_description"] and str(event_id) in incident["description"]
    [message] = await messages(api, event_id=event_id)
    assert message["receipt"] == "servicenow INC0010001"


async def test_templates_per_event_type(api: ApiClient, receiver: Receiver) -> None:
    channel = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
        "name": "sms", "kind": "sms", "secret": "token-1",
        "config": {"base_url": f"http://127.0.0.1:{receiver.port}", "account_sid": "AC123",
                   "from_number": "+15005550006", "templates": {
                       "intrusion": {"text": "Intruder at $camera_name, $site_name ($priority) $unknown"},
                       "*": {"text": "VMS: $event_type x$count"}}}})
    await rule(api, [channel["id"]], recipients=["+15551230001"])
    camera = await add_camera(api, "North gate")
    await raise_event(api, camera, "intrusion")
    await wait_for(lambda: len(receiver.sms) == 1)
    await raise_event(api, camera, "tampering")
    await wait_for(lambda: len(receiver.sms) == 2)
    assert [m["Body"] for m in receiver.sms] == ["Intruder at North gate, HQ (HIGH) $unknown", "VMS: tampering x1"]
    bad = await api.call("PATCH", f"/api/v1/notifications/channels/{channel['id']}",
                         json={"config": {"account_sid": "AC1", "templates": {"*": {"body": "x"}}}})
    assert bad.status == 422 and "templates" in await bad.text()


async def test_whatsapp_through_the_same_api(api: ApiClient, receiver: Receiver) -> None:
    channel = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
        "name": "wa", "kind": "whatsapp", "secret": "token-1",
        "config": {"base_url": f"http://127.0.0.1:{receiver.port}", "account_sid": "AC123",
                   "from_number": "+14155238886"}})
    out = await api.ok("POST", f"/api/v1/notifications/channels/{channel['id']}/test",
                       json={"recipient": "+15551230009"})
    assert out["status"] == "SENT" and out["receipt"].startswith("sid SM")
    assert receiver.sms[0]["To"] == "whatsapp:+15551230009" and receiver.sms[0]["From"] == "whatsapp:+14155238886"


async def _statuses(api: ApiClient, event_id: object, want: list[str]) -> bool:
    return sorted(m["status"] for m in await messages(api, event_id=event_id)) == want
