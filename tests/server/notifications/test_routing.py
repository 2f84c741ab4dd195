"""Routing: quiet hours in the site's time zone (CRITICAL breaks through), grouping of a burst into one message
with a count, escalation chains that stop on acknowledgement, and a restart in the middle that neither loses
nor repeats a delivery."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

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
from vms_common.db.base import utcnow
from vms_server import keys
from vms_server.analytics.types import Priority
from vms_server.app import create_app
from vms_server.audit.service import SYSTEM
from vms_server.config.keys import CONFIG
from vms_server.notifications.models import NotifyEscalation, NotifyMessage
from vms_server.notifications.quiet import QuietHours, held_until, zone
from vms_server.org.models import Site


def test_overnight_quiet_hours_end_the_next_local_morning() -> None:
    quiet = QuietHours(True, dt.time(22), dt.time(6), frozenset({"CRITICAL"}))
    tokyo = zone("Asia/Tokyo")
    late = dt.datetime(2026, 3, 1, 23, 30, tzinfo=tokyo)
    assert held_until(quiet, "STANDARD", late, tokyo) == dt.datetime(2026, 3, 2, 6, tzinfo=tokyo)
    early = dt.datetime(2026, 3, 2, 5, 0, tzinfo=tokyo)
    assert held_until(quiet, "STANDARD", early, tokyo) == dt.datetime(2026, 3, 2, 6, tzinfo=tokyo)
    assert held_until(quiet, "CRITICAL", late, tokyo) is None
    assert held_until(quiet, "STANDARD", dt.datetime(2026, 3, 2, 12, tzinfo=tokyo), tokyo) is None


async def test_quiet_hours_hold_standard_and_let_critical_through(api: ApiClient, receiver: Receiver) -> None:
    app = api.client.app
    tz = "Asia/Tokyo"  # not the server's zone: the window is the site's local time
    async with app[keys.SESSIONS].begin() as session:
        site = await session.get(Site, api.seeded.site_id)
        assert site is not None
        site.timezone = tz
    local_now = dt.datetime.now(zone(tz))
    start, end = (local_now - dt.timedelta(hours=1)).time(), (local_now + dt.timedelta(hours=1)).time()
    await app[CONFIG].set_values("site", api.seeded.site_id, None, {
        "notifications.quiet_hours.enabled": True, "notifications.quiet_hours.start": start.isoformat("minutes"),
        "notifications.quiet_hours.end": end.isoformat("minutes")}, SYSTEM)
    await rule(api, [await webhook_channel(api, receiver)])
    camera = await add_camera(api)
    held = await raise_event(api, camera, "intrusion", Priority.STANDARD)
    urgent = await raise_event(api, camera, "intrusion", Priority.CRITICAL)
    await wait_for(lambda: len(receiver.received) == 1)
    assert receiver.received[0]["body"]["event_id"] == str(urgent)
    [waiting] = await messages(api, event_id=held)
    assert waiting["status"] == "PENDING" and waiting["held_reason"] == "quiet_hours"
    due = dt.datetime.fromisoformat(waiting["next_attempt_at"])
    expected = dt.datetime.combine((local_now + dt.timedelta(hours=1)).date(), end.replace(second=0, microsecond=0),
                                   tzinfo=zone(tz))
    assert abs((due - expected).total_seconds()) < 1


async def test_a_burst_of_motion_becomes_one_message_with_a_count(api: ApiClient, receiver: Receiver) -> None:
    window = 8
    channel = await webhook_channel(api, receiver)
    await rule(api, [channel], event_types=["motion"], group_window_s=window)
    camera = await add_camera(api)
    loop = asyncio.get_running_loop()
    began = loop.time()
    for _ in range(40):
        await raise_event(api, camera, "motion", Priority.STANDARD)
    elapsed = loop.time() - began
    critical = await raise_event(api, camera, "motion", Priority.CRITICAL)  # never held back for a group
    await wait_for(lambda: any(r["body"]["event_id"] == str(critical) for r in receiver.received))
    await wait_for(lambda: sum(r["body"]["count"] for r in receiver.received) == 41, limit_s=30)
    grouped = [r for r in receiver.received if r["body"]["event_id"] != str(critical)]
    # One message for the whole burst. The group's window opens when the router sees the first event, which
    # lags the raising by a varying amount on a loaded machine: a burst raised within half the window fits in
    # one group whatever that lag; a slower burst may open one more group per window (never one per event).
    assert len(grouped) <= 2 + int(elapsed // window)
    if elapsed < window / 2:
        assert [r["body"]["count"] for r in grouped] == [40]
    await wait_for(lambda: _all_sent(api))  # the receiver answers before the worker records SENT


async def _all_sent(api: ApiClient) -> bool:
    return all(m["status"] == "SENT" for m in await messages(api))


async def _escalations(api: ApiClient, event_id: uuid.UUID) -> list[dict[str, Any]]:
    body = await api.ok("GET", f"/api/v1/notifications/events/{event_id}/escalations", role=Role.SUPERVISOR)
    items: list[dict[str, Any]] = body["items"]
    return items


async def test_escalation_moves_up_and_stops_on_acknowledge(api: ApiClient, receiver: Receiver) -> None:
    channel = await webhook_channel(api, receiver)
    # 'minutes' are 0.5 s in these tests (notifications.minute_s)
    await rule(api, [channel], escalation=[
        {"name": "supervisor", "after_minutes": 1, "channel_ids": [channel]},
        {"name": "on-call", "after_minutes": 20, "channel_ids": [channel]}])
    camera = await add_camera(api)
    event_id = await raise_event(api, camera)
    await wait_for(lambda: any(r["body"].get("escalation_level") == 1 for r in receiver.received))
    [chain] = await _escalations(api, event_id)
    assert chain["state"] == "ACTIVE" and chain["level"] == 1
    event = await api.ok("GET", f"/api/v1/events/{event_id}")
    assert any("Escalated to level 1 (supervisor)" in n["text"] for n in event["notes"])
    await api.ok("POST", f"/api/v1/events/{event_id}/status", json={"status": "ACKNOWLEDGED"})
    await wait_for(lambda: _state(api, event_id, "STOPPED"))
    levels = sorted(r["body"].get("escalation_level", 0) for r in receiver.received)
    assert levels == [0, 1]


async def test_the_last_level_repeats_then_the_chain_ends(api: ApiClient, receiver: Receiver) -> None:
    channel = await webhook_channel(api, receiver)
    await api.client.app[CONFIG].set_values("customer", api.seeded.customer_id, None,
                                            {"notifications.escalation.repeat": 1}, SYSTEM)
    await rule(api, [channel], escalation=[{"name": "on-call", "after_minutes": 1, "channel_ids": [channel]}])
    event_id = await raise_event(api, await add_camera(api))
    await wait_for(lambda: _state(api, event_id, "DONE"))
    await wait_for(lambda: len(receiver.received) == 3)  # queued before DONE, delivered just after
    steps = sorted((r["body"].get("escalation_level", 0), r["body"].get("escalation_step", 0))
                   for r in receiver.received)
    assert steps == [(0, 0), (1, 1), (1, 2)]
    event = await api.ok("GET", f"/api/v1/events/{event_id}")
    assert [n["text"].split(":")[0] for n in event["notes"]] == [
        "Escalated to level 1 (on-call)", "Escalated to level 1 (on-call, repeat 1)"]


async def _state(api: ApiClient, event_id: uuid.UUID, state: str) -> bool:
    return [c["state"] for c in await _escalations(api, event_id)] == [state]


async def test_restart_neither_loses_nor_repeats(api: ApiClient, receiver: Receiver, aiohttp_client: Any) -> None:
    channel = await webhook_channel(api, receiver)
    await rule(api, [channel], escalation=[{"name": "supervisor", "after_minutes": 2, "channel_ids": [channel]}])
    app = api.client.app
    await app[CONFIG].set_values("customer", api.seeded.customer_id, None,
                                 {"notifications.escalation.repeat": 0}, SYSTEM)
    camera = await add_camera(api)
    event_id = await raise_event(api, camera)
    await wait_for(lambda: len(receiver.received) >= 1)
    sessions = app[keys.SESSIONS]
    settings = app[keys.SETTINGS]
    # A message a crashed worker had claimed (SENDING, lease run out) and one due later.
    async with sessions.begin() as session:
        for key, status, due in (("crashed", "SENDING", utcnow()), ("later", "PENDING",
                                                                    utcnow() + dt.timedelta(seconds=1))):
            session.add(NotifyMessage(customer_id=api.seeded.customer_id, channel_id=uuid.UUID(channel),
                                      payload={"type": "test", "note": key}, dedup_key=key, status=status,
                                      next_attempt_at=due, claimed_until=utcnow() - dt.timedelta(seconds=1)
                                      if status == "SENDING" else None))
    await api.client.close()  # stop the server: the escalation is still due
    second = await aiohttp_client(create_app(settings))
    sessions = second.app[keys.SESSIONS]

    async def chain_done() -> bool:
        async with sessions() as session:
            return (await session.scalars(select(NotifyEscalation.state))).all() == ["DONE"]

    await wait_for(chain_done)
    await wait_for(lambda: len(receiver.received) >= 4)

    async def statuses() -> list[str]:
        async with sessions() as session:
            return sorted((await session.scalars(select(NotifyMessage.status))).all())

    async def all_sent() -> bool:  # the receiver answers just before the worker records SENT
        return await statuses() == ["SENT"] * 4

    await wait_for(all_sent)
    deliveries = [r["delivery"] for r in receiver.received]
    assert len(deliveries) == len(set(deliveries)) == 4  # each message exactly once
    kinds = sorted(r["body"].get("note") or f"level{r['body'].get('escalation_level', 0)}"
                   for r in receiver.received)
    assert kinds == ["crashed", "later", "level0", "level1"]
    assert receiver.received[0]["body"]["event_id"] == str(event_id)


async def test_an_event_stored_but_never_routed_is_routed_at_the_next_start(
        api: ApiClient, receiver: Receiver, aiohttp_client: Any) -> None:
    await rule(api, [await webhook_channel(api, receiver)], escalation=[
        {"name": "later", "after_minutes": 600, "channel_ids": [await webhook_channel(api, receiver, name="b")]}])
    camera = await add_camera(api)
    routed = await raise_event(api, camera)
    await wait_for(lambda: len(receiver.received) == 1)
    orphan = await raise_event(api, camera, announce=False)  # stored, then the server died before routing it
    settings = api.client.app[keys.SETTINGS]
    await api.client.close()
    second = await aiohttp_client(create_app(settings))
    await wait_for(lambda: len(receiver.received) == 2)
    assert [r["body"]["event_id"] for r in receiver.received] == [str(routed), str(orphan)]
    async with second.app[keys.SESSIONS]() as session:
        events = (await session.scalars(select(NotifyMessage.event_id))).all()
        chains = (await session.scalars(select(NotifyEscalation.event_id))).all()
    assert sorted(map(str, events)) == sorted([str(routed), str(orphan)])  # the routed one was not routed again
    assert sorted(map(str, chains)) == sorted([str(routed), str(orphan)])  # one chain each


async def test_rules_without_channels_follow_the_configuration_hierarchy(api: ApiClient, receiver: Receiver
                                                                          ) -> None:
    await webhook_channel(api, receiver)
    await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
        "name": "sms", "kind": "sms", "secret": "token-1",
        "config": {"base_url": f"http://127.0.0.1:{receiver.port}", "account_sid": "AC1",
                   "from_number": "+15005550006"}})
    await api.client.app[CONFIG].set_values("site", api.seeded.site_id, None, {
        "notifications.channels": {"intrusion": ["webhook"], "*": []},
        "notifications.escalation.channels": ["sms"], "notifications.escalation.repeat": 0}, SYSTEM)
    await rule(api, [], recipients=["+15550000001"], escalation=[{"name": "duty", "after_minutes": 1}])
    camera = await add_camera(api)
    intrusion = await raise_event(api, camera, "intrusion")
    motion = await raise_event(api, camera, "motion")
    await wait_for(lambda: len(receiver.sms) == 2)  # the escalation of both events, by SMS
    assert [r["body"]["event_id"] for r in receiver.received] == [str(intrusion)]  # only intrusion has a kind
    assert {m["Body"].split("\n")[0] for m in receiver.sms} == {
        "[HIGH] intrusion at Gate (escalation level 1)", "[HIGH] motion at Gate (escalation level 1)"}
    assert str(motion) not in str(receiver.received)
