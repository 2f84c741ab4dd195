"""Recipients as people: a rule names users, groups and on-call rotas; each user's contact point for the channel
is used, in the user's language, held by the user's own quiet hours (CRITICAL through unless the user says
otherwise); a user reached twice gets one message. The directory API refuses what it cannot use, clearly."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, get_args

from tests.server.helpers import ApiClient
from tests.server.notifications.conftest import add_camera, messages, raise_event, rule, wait_for
from tests.server.notifications.servers import Receiver
from vms_common.auth.roles import Role
from vms_server.analytics.types import Priority
from vms_server.notifications.directory import on_shift
from vms_server.notifications.directory_models import NotifyOnCall
from vms_server.notifications.directory_schemas import Language
from vms_server.notifications.render import languages, render


def test_on_call_shifts_overnight_and_fallback() -> None:
    night, day, boss = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rota = NotifyOnCall(name="guards", timezone="Europe/Berlin", fallback_user_id=boss, shifts=[
        {"user_id": str(day), "days": [0, 1, 2, 3, 4], "start": "08:00", "end": "20:00"},
        {"user_id": str(night), "days": [4], "start": "20:00", "end": "08:00"}])
    berlin = dt.timezone(dt.timedelta(hours=1))  # winter time, as the dates below are
    friday_noon = dt.datetime(2026, 1, 9, 12, 0, tzinfo=berlin)
    assert on_shift(rota, friday_noon) == [day]
    assert on_shift(rota, dt.datetime(2026, 1, 9, 23, 0, tzinfo=berlin)) == [night]
    assert on_shift(rota, dt.datetime(2026, 1, 10, 7, 59, tzinfo=berlin)) == [night]  # Saturday, Friday's shift
    assert on_shift(rota, dt.datetime(2026, 1, 10, 8, 0, tzinfo=berlin)) == [boss]  # nobody: the fallback
    assert on_shift(rota, dt.datetime(2026, 1, 8, 23, 0, tzinfo=berlin)) == [boss]  # Thursday night: no shift


def test_every_wording_file_is_a_language_contacts_can_choose() -> None:
    assert set(languages()) == set(get_args(Language))
    payload = {"type": "event", "event_type": "intrusion", "priority": "HIGH", "camera_name": "Tor", "_lang": "de",
               "url": "http://vms/events/1"}
    german = render("m", "x", payload, 2, None)
    assert german.subject == "[HIGH] 2 x Eindringen bei Tor" and "Ereignis öffnen" in german.text
    assert "Kamera: Tor" in german.text and "Ereignisse in dieser Nachricht: 2" in german.text
    assert render("m", "x", {**payload, "_lang": "fr"}, 1, None).subject == "[HIGH] Intrusion à Tor"
    assert render("m", "x", {**payload, "_lang": "xx"}, 1, None).subject == "[HIGH] intrusion at Tor"
    assert "_lang" not in german.payload


async def _users(api: ApiClient) -> dict[str, str]:
    body = await api.ok("GET", "/api/v1/users")
    return {u["username"]: u["id"] for u in body["items"]}


async def _sms_channel(api: ApiClient, receiver: Receiver) -> str:
    body = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
        "name": "sms", "kind": "sms", "secret": "token-1",
        "config": {"base_url": f"http://127.0.0.1:{receiver.port}", "account_sid": "AC123",
                   "from_number": "+15005550006"}})
    return str(body["id"])


def _quiet_now() -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {"timezone": "UTC", "quiet_enabled": True,
            "quiet_start": (now - dt.timedelta(hours=1)).strftime("%H:%M"),
            "quiet_end": (now + dt.timedelta(hours=1)).strftime("%H:%M")}


async def test_users_groups_and_on_call_reach_their_phones(api: ApiClient, receiver: Receiver) -> None:
    users = await _users(api)
    viewer, supervisor, admin = users["viewer1"], users["supervisor1"], users["admin1"]
    own = await api.ok("PUT", "/api/v1/notifications/contacts/me", role=Role.VIEWER,
                       json={"phone": "+15550000001", "language": "de"})
    assert own["user_id"] == viewer and own["language"] == "de"
    await api.ok("PUT", f"/api/v1/notifications/contacts/{supervisor}", json={"phone": "+15550000002"})
    # The admin sleeps: HIGH waits for the end of the admin's quiet hours, CRITICAL breaks through.
    await api.ok("PUT", f"/api/v1/notifications/contacts/{admin}", json={"phone": "+15550000003", **_quiet_now()})
    group = await api.ok("POST", "/api/v1/notifications/groups", role=Role.SUPERVISOR, status=201,
                         json={"name": "night shift", "members": [viewer, supervisor]})
    rota = await api.ok("POST", "/api/v1/notifications/oncall", role=Role.SUPERVISOR, status=201, json={
        "name": "on call", "timezone": "UTC", "shifts": [{"user_id": admin, "start": "00:00", "end": "00:00"}]})
    now = await api.ok("GET", f"/api/v1/notifications/oncall/{rota['id']}/now", role=Role.SUPERVISOR)
    assert now["user_ids"] == [admin]
    channel = await _sms_channel(api, receiver)
    await rule(api, [channel], recipients=[group["ref"], f"user:{viewer}", rota["ref"], "+15550000009"])
    camera = await add_camera(api, "Tor")

    high = await raise_event(api, camera, priority=Priority.HIGH)
    await wait_for(lambda: len(receiver.sms) == 3)
    by_number = {m["To"]: m["Body"] for m in receiver.sms}
    assert set(by_number) == {"+15550000001", "+15550000002", "+15550000009"}  # the viewer once, not twice
    assert "Eindringen bei Tor" in by_number["+15550000001"] and "intrusion at Tor" in by_number["+15550000002"]
    held = [m for m in await messages(api, event_id=high) if m["recipient"] == "+15550000003"]
    assert [(m["status"], m["held_reason"]) for m in held] == [("PENDING", "recipient_quiet_hours")]

    await raise_event(api, camera, priority=Priority.CRITICAL)
    await wait_for(lambda: len(receiver.sms) == 7)
    assert sorted(m["To"] for m in receiver.sms[3:]) == ["+15550000001", "+15550000002", "+15550000003",
                                                         "+15550000009"]
    # The admin now holds back CRITICAL too: nothing reaches the admin's phone.
    await api.ok("PUT", f"/api/v1/notifications/contacts/{admin}",
                 json={"phone": "+15550000003", **_quiet_now(), "quiet_allow": []})
    critical = await raise_event(api, camera, priority=Priority.CRITICAL)
    await wait_for(lambda: len(receiver.sms) == 10)
    held = [m for m in await messages(api, event_id=critical) if m["recipient"] == "+15550000003"]
    assert [m["held_reason"] for m in held] == ["recipient_quiet_hours"]
    assert "+15550000003" not in {m["To"] for m in receiver.sms[7:]}


async def test_directory_refusals_are_clear(api: ApiClient, receiver: Receiver) -> None:
    users = await _users(api)
    channel = await _sms_channel(api, receiver)
    nobody = str(uuid.uuid4())

    async def status(method: str, path: str, role: Role = Role.ADMIN, **body: Any) -> int:
        resp = await api.call(method, f"/api/v1/notifications/{path}", role, json=body)
        return int(resp.status)

    assert await status("POST", "rules", name="r", channel_ids=[channel], recipients=["user:not-a-uuid"]) == 422
    assert await status("POST", "rules", name="r", channel_ids=[channel], recipients=[f"group:{nobody}"]) == 422
    assert await status("POST", "rules", name="r", channel_ids=[channel],
                        escalation=[{"recipients": [f"oncall:{nobody}"]}]) == 422
    assert await status("POST", "groups", name="g", members=[nobody]) == 422
    assert await status("POST", "groups", Role.VIEWER, name="g", members=[]) == 403
    assert await status("POST", "groups", name="g", members=[], colour="red") == 422
    assert await status("POST", "oncall", name="o", timezone="Mars/Olympus") == 422
    assert await status("POST", "oncall", name="o", shifts=[{"user_id": users["admin1"], "start": "25:00",
                                                             "end": "06:00"}]) == 422
    assert await status("POST", "oncall", name="o", shifts=[{"user_id": users["admin1"], "days": [7],
                                                             "start": "22:00", "end": "06:00"}]) == 422
    assert await status("POST", "oncall", name="o", shifts=[{"user_id": users["admin1"], "days": [],
                                                             "start": "22:00", "end": "06:00"}]) == 422
    assert await status("PUT", f"contacts/{nobody}", phone="+1555") == 404
    assert await status("PUT", "contacts/me", Role.VIEWER, language="tlh") == 422
    assert await status("PUT", f"contacts/{users['viewer1']}", Role.SUPERVISOR, phone="+1555") == 403
    group = await api.ok("POST", "/api/v1/notifications/groups", status=201, json={"name": "g", "members": []})
    assert await status("POST", "groups", name="g", members=[]) == 409
    await rule(api, [channel], name="uses g", recipients=[group["ref"]])
    assert (await api.call("DELETE", f"/api/v1/notifications/groups/{group['id']}")).status == 409
    assert (await api.call("DELETE", f"/api/v1/notifications/groups/{nobody}")).status == 404


async def test_an_escalation_level_reaches_whoever_is_on_call(api: ApiClient, receiver: Receiver) -> None:
    users = await _users(api)
    await api.ok("PUT", f"/api/v1/notifications/contacts/{users['supervisor1']}", json={"phone": "+15550000020"})
    rota = await api.ok("POST", "/api/v1/notifications/oncall", status=201, json={
        "name": "nights", "fallback_user_id": users["supervisor1"],
        "shifts": [{"user_id": users["admin1"], "days": [(dt.datetime.now(dt.UTC).weekday() + 3) % 7],
                    "start": "00:00", "end": "00:00"}]})  # not today: nobody on shift
    channel = await _sms_channel(api, receiver)
    await rule(api, [channel], recipients=["+15550000009"],
               escalation=[{"name": "on call", "after_minutes": 1, "recipients": [rota["ref"]],
                            "channel_ids": [channel]}])
    event_id = await raise_event(api, await add_camera(api), priority=Priority.HIGH)
    await wait_for(lambda: len(receiver.sms) == 2)
    assert [m["To"] for m in receiver.sms] == ["+15550000009", "+15550000020"]  # the rota's fallback
    assert "escalation level 1" in receiver.sms[1]["Body"]
    escalated = [m for m in await messages(api, event_id=event_id) if m["kind"] == "escalation"]
    assert [m["recipient"] for m in escalated] == ["+15550000020"]
