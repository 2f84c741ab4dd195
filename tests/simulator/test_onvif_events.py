"""Event topics: GetEventProperties lists every topic the simulator raises, and the door, contact and
access events follow the people scene's ground truth (zone A is the door)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from onvif import ONVIFCamera

from vms_camsim import SimulatorConfig, SimulatorHandle
from vms_camsim.onvif.events import TOPICS, Subscription

from .helpers import small_camera, small_stream

pytestmark = pytest.mark.slow

EXPECTED = {
    "tns1:VideoSource/MotionAlarm", "tns1:VideoSource/GlobalSceneChange/ImagingService",
    "tns1:Device/Trigger/DigitalInput", "tns1:Door/State/DoorPhysicalState",
    "tns1:AccessControl/AccessGranted/Credential",
}
WSTOP = "{http://docs.oasis-open.org/wsn/t-1}topic"


def test_door_contact_and_access_follow_who_is_in_zone_a(sim: SimulatorHandle) -> None:
    camera = sim.camera("cam1")  # people scene, 2 s loop
    sub = Subscription(camera, expires=float("inf"))
    start = 1_000_000.0  # a whole number of loops: phase 0
    seen = sub.collect(start)
    assert {n.operation for n in seen} == {"Initialized"} and len(seen) == 4  # every property, no plain event
    messages = []
    for step in range(1, 21):  # one loop, 0.1 s at a time
        messages += sub.collect(start + step * 0.1)
    door = [n.data[0] for n in messages if n.topic.path == "tns1:Door/State/DoorPhysicalState"]
    contact = [n.data[0] for n in messages if n.topic.path == "tns1:Device/Trigger/DigitalInput"]
    grants = [n for n in messages if n.topic.path == "tns1:AccessControl/AccessGranted/Credential"]
    assert door == ["Open", "Closed", "Open", "Closed"]
    assert contact == ["true", "false", "true", "false"]
    # One grant per opening, to the first person in; person-2 walks in behind person-1 (a tailgater).
    assert [g.data for g in grants] == [("cred-person-1", "person-1"), ("cred-person-3", "person-3")]
    assert all(g.operation is None and g.source == ("ap0",) for g in grants)
    assert camera.scene.people_in_zone(0.45) == ("person-1", "person-2")
    sub.synchronise()
    again = sub.collect(start + 2.05)
    assert {n.operation for n in again} == {"Initialized"} and len(again) == 4


@pytest.fixture
async def people() -> AsyncIterator[SimulatorHandle]:
    config = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[
        small_camera("door", main=small_stream(fps=5, kbps=200), sub=None)])
    async with SimulatorHandle.start(config) as handle:
        yield handle


async def test_event_properties_list_every_topic(people: SimulatorHandle) -> None:
    cam = ONVIFCamera("127.0.0.1", people.onvif_port("door"), "admin", "admin")
    await cam.update_xaddrs()
    events = await cam.create_events_service()
    props = await events.GetEventProperties()
    listed: set[str] = set()

    def walk(element: object, path: list[str]) -> None:
        for node in element:  # type: ignore[attr-defined]
            local = node.tag.rsplit("}", 1)[-1]
            if local == "MessageDescription":
                continue
            here = [*path, local]
            if node.get(WSTOP) == "true":
                listed.add("tns1:" + "/".join(here))
                assert node.find("{http://www.onvif.org/ver10/schema}MessageDescription") is not None
            walk(node, here)

    for root in props.TopicSet._value_1:
        walk([root], [])
    assert listed == EXPECTED == {t.path for t in TOPICS}
    assert props.FixedTopicSet is True
    manager = await cam.create_pullpoint_manager(dt.timedelta(seconds=60), lambda: None)
    pulled = await manager.get_service().PullMessages({"MessageLimit": 20, "Timeout": dt.timedelta(seconds=1)})
    assert {m.Topic._value_1 for m in pulled.NotificationMessage} >= EXPECTED - {
        "tns1:AccessControl/AccessGranted/Credential"}
    await manager.shutdown()
    await cam.close()
