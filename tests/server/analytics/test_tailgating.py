"""Line crossing with a direction, the tailgating model on the door scene's frames (grants from the scene's
ground truth), the ONVIF access messages that become grants, intrusion's lines, and the grants webhook
(roles, validation). The whole RTSP/ONVIF path is test_tailgating_e2e."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import make_settings, seed
from tests.server.analytics.tiny_posture_yolo import build_posture_yolo
from tests.server.helpers import ApiClient
from vms_camsim.config import SceneKind
from vms_camsim.scenes import make_scene
from vms_camsim.scenes_door import CAROL, GRANTS, LOOP_S, POSERS, crossing_time
from vms_common.auth.roles import Role
from vms_server.access.grants import GRANTS as STORE
from vms_server.access.grants import GrantStore
from vms_server.access.onvif import access_messages, record
from vms_server.analytics.base import CameraContext
from vms_server.analytics.evaluation import jobs_of, scene_frames
from vms_server.analytics.lines import LINE_COUNTS, LineCrosser, LineRule
from vms_server.analytics.plugins.intrusion import IntrusionModel
from vms_server.analytics.plugins.tailgating import TailgatingModel
from vms_server.analytics.tracker import iou
from vms_server.analytics.types import Detection, Frame
from vms_server.app import create_app

DOOR = {"name": "door", "a": [0.3, 0.6], "b": [0.7, 0.6], "inside": "left"}


def _feet(x: float, y: float) -> tuple[float, float, float, float]:
    """A person's box whose feet stand at (x, y)."""
    return (x - 0.01, y - 0.1, 0.02, 0.1)


def test_a_line_counts_in_and_out_once_per_side_change() -> None:
    line = LineRule.model_validate(DOOR)
    crosser = LineCrosser()
    walker, other = uuid.uuid4(), uuid.uuid4()
    path = [0.8, 0.7, 0.61, 0.595, 0.605, 0.59, 0.5, 0.45, 0.59, 0.61, 0.65, 0.7]  # jitter on the line, back out
    seen = []
    for i, y in enumerate(path):
        seen += crosser.update([line], [(walker, _feet(0.5, y))], float(i))
    assert [(c.direction, c.ts) for c in seen] == [("in", 6.0), ("out", 10.0)]
    # Beside the end of the line is not through it; left/right swap the meaning.
    assert [c for y in (0.8, 0.4) for c in crosser.update([line], [(other, _feet(0.9, y))], 20.0)] == []
    right = line.model_copy(update={"inside": "right", "name": "door2"})
    swapped = LineCrosser()
    got = [c.direction for y in (0.8, 0.4) for c in swapped.update([right], [(other, _feet(0.5, y))], 1.0)]
    assert got == ["out"]


def test_one_person_split_into_two_tracks_crosses_once() -> None:
    """The tracker briefly keeps two ids on one person: both cross, one crossing counts. Someone beside them
    (another box) a moment later still counts."""
    line = LineRule.model_validate(DOOR)
    crosser = LineCrosser()
    first, split, beside = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    crosser.update([line], [(first, _feet(0.5, 0.7)), (split, _feet(0.5, 0.71)), (beside, _feet(0.6, 0.7))], 0.0)
    got = crosser.update([line], [(first, _feet(0.5, 0.55))], 1.0, alive={first, split, beside})
    partial = (0.495, 0.48, 0.02, 0.06)  # a second, partial box of the same person (feet 0.54)
    got += crosser.update([line], [(split, partial), (beside, _feet(0.6, 0.55))], 1.125,
                          alive={first, split, beside})
    assert [c.track_id for c in got] == [first, beside]


def test_a_track_missed_on_a_frame_keeps_its_side() -> None:
    line = LineRule.model_validate(DOOR)
    crosser = LineCrosser()
    walker = uuid.uuid4()
    crosser.update([line], [(walker, _feet(0.5, 0.8))], 0.0)
    assert crosser.update([line], [], 1.0, alive={walker}) == []
    assert [c.direction for c in crosser.update([line], [(walker, _feet(0.5, 0.4))], 2.0)] == ["in"]
    crosser.update([line], [], 3.0, alive=set())  # the tracker dropped it
    assert crosser.sides == {}


@pytest.fixture(scope="module")
def door_frames() -> list[Frame]:
    return list(scene_frames(make_scene(SceneKind.DOOR), LOOP_S, loop_seconds=LOOP_S, width=1280, height=720,
                             t0=time.time() - 120))


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_posture_yolo(tmp_path_factory.mktemp("onnx") / "posture.onnx", 1280, 720)


def _run(model: Any, frames: list[Frame], camera: uuid.UUID, config: dict[str, Any]) -> list[Detection]:
    ctx = CameraContext(camera, model.parse_config(config))
    model.load()
    return [d for job in jobs_of(frames, model.name, 2.0, camera) for d in model.process(job, ctx)]


async def test_tailgating_on_the_door_scene(door_frames: list[Frame], detector: Path) -> None:
    """One event, for the person who follows on another's grant; the lone entrant, the person going out and
    the two people with a grant each raise nothing. Counts: five in, one out."""
    t0 = door_frames[0].ts
    camera = uuid.uuid4()
    for grant in GRANTS:
        STORE.add(camera, t0 + grant.t, source="webhook", credential=f"badge-{grant.holder}")
    config = {"detector_path": str(detector), "grant_window_s": 6.0, "doors": [DOOR]}
    found = await asyncio.to_thread(_run, TailgatingModel(), door_frames, camera, config)
    assert len(found) == 1, [(round(d.ts - t0, 2), d.details) for d in found]
    event = found[0]
    crossed = crossing_time(CAROL)
    assert 0.0 <= event.ts - t0 - crossed < 0.6
    truth = CAROL.box(event.ts - t0, 16 / 9)
    assert truth is not None and event.box is not None and iou(event.box, truth) > 0.6
    assert event.details["count"] == 2 and event.details["credential"] == "badge-bob"
    assert abs(event.details["seconds_after_previous"] - 1.0) < 0.3
    assert LINE_COUNTS.of_camera(camera)[0] | {"last_crossing": None} == {
        "model": "tailgating", "line": "door", "in": 5, "out": 1, "last_crossing": None}


async def test_without_grants_nobody_tailgates_and_each_grant_admits_one(door_frames: list[Frame],
                                                                         detector: Path) -> None:
    t0 = door_frames[0].ts
    config = {"detector_path": str(detector), "grant_window_s": 6.0, "doors": [DOOR]}
    assert await asyncio.to_thread(_run, TailgatingModel(), door_frames, uuid.uuid4(), config) == []
    # A second grant for bob's door opening admits carol too.
    camera = uuid.uuid4()
    for at in (*(g.t for g in GRANTS), 8.5):
        STORE.add(camera, t0 + at)
    assert await asyncio.to_thread(_run, TailgatingModel(), door_frames, camera, config) == []


async def test_intrusion_raises_on_a_line_crossed_the_alarmed_way(door_frames: list[Frame], detector: Path) -> None:
    """Intrusion with the door as a line (alarm on 'out'): dave's walk out is the only crossing that way."""
    t0 = door_frames[0].ts
    camera = uuid.uuid4()
    config = {"detector_path": str(detector), "zones": [{"name": "nowhere", "points": [[0, 0], [0.01, 0],
                                                                                        [0, 0.01]]}],
              "lines": [{**DOOR, "alarm": "out"}]}
    found = await asyncio.to_thread(_run, IntrusionModel(), door_frames, camera, config)
    dave = next(p for p in POSERS if p.object_id == "dave-goes-out")
    assert found and {d.details["line"] for d in found} == {"door"}
    assert len({d.tracking_id for d in found}) == 1 and all(d.details["direction"] == "out" for d in found)
    assert 0.0 <= found[0].ts - t0 - crossing_time(dave) < 0.6
    counts = LINE_COUNTS.of_camera(camera)[0]
    assert (counts["model"], counts["in"], counts["out"]) == ("intrusion", 5, 1)


def _message(topic: str, data: dict[str, str], operation: str | None = "Changed",
             utc: dt.datetime | None = None) -> Any:
    items = [SimpleNamespace(Name=k, Value=v) for k, v in data.items()]
    body = SimpleNamespace(PropertyOperation=operation, UtcTime=utc, Data=SimpleNamespace(SimpleItem=items))
    return SimpleNamespace(Topic=SimpleNamespace(_value_1=topic), Message=SimpleNamespace(_value_1=body))


def test_onvif_access_messages_become_grants_as_configured() -> None:
    at = dt.datetime(2030, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    messages = SimpleNamespace(NotificationMessage=[
        _message("tns1:VideoSource/MotionAlarm", {"State": "true"}),
        _message("tns1:Door/State/DoorPhysicalState", {"State": "Closed"}, "Initialized"),
        _message("tns1:Door/State/DoorPhysicalState", {"State": "Open"}, utc=at),
        _message("tns1:AccessControl/AccessGranted/Credential", {"CredentialToken": "cred-7",
                                                                 "CredentialHolderName": "bob"}, None, at),
        _message("tns1:Device/Trigger/DigitalInput", {"LogicalState": "true"}, "Initialized"),
        _message("tns1:Device/Trigger/DigitalInput", {"LogicalState": "false"}),
    ])
    assert [(m.kind, m.ts, m.credential) for m in access_messages(messages)] == [
        ("door_open", at.timestamp(), None), ("access_granted", at.timestamp(), "cred-7")]
    store, camera = GrantStore(keep_s=1e10), uuid.uuid4()
    assert record(store, camera, messages, ["access_granted"]) == 1
    assert [(g.source, g.holder) for g in store.between(camera, 0, 1e12)] == [("onvif", "bob")]
    assert record(store, camera, messages, ["door_open", "input"]) == 1


@pytest.fixture
async def api(tmp_path: Path, db_url: str, aiohttp_client: Any) -> ApiClient:
    settings = make_settings(tmp_path / "data", db_url)
    seeded = await seed(settings)
    return ApiClient(await aiohttp_client(create_app(settings)), seeded)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_grants_webhook(api: ApiClient) -> None:
    body = {"name": "door", "site_id": str(api.seeded.site_id), "streams": [
        {"role": "main", "rtsp_url": "rtsp://127.0.0.1:9/none", "width": 1280, "height": 720}]}
    camera = (await api.ok("POST", "/api/v1/cameras", json=body, status=201))["id"]
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    made = await api.ok("POST", "/api/v1/access/grants", Role.SUPERVISOR, status=201,
                        json={"camera_id": camera, "door": "door", "at": at.isoformat(), "credential": "b-1"})
    assert made["camera_id"] == camera and dt.datetime.fromisoformat(made["at"]) == at
    assert [g.credential for g in STORE.between(uuid.UUID(camera), at.timestamp() - 1, at.timestamp() + 1)] == ["b-1"]
    assert (await api.call("POST", "/api/v1/access/grants", None, json={"camera_id": camera})).status == 401
    assert (await api.call("POST", "/api/v1/access/grants", Role.VIEWER, json={"camera_id": camera})).status == 403
    old = (at - dt.timedelta(hours=1)).isoformat()
    for bad, status in (({"camera_id": camera, "extra": 1}, 422), ({"camera_id": "nope"}, 422), ({}, 422),
                        ({"camera_id": camera, "at": old}, 409), ({"camera_id": camera, "at": "2030-01-01T00:00"}, 422),
                        ({"camera_id": camera, "at": "2099-01-01T00:00:00Z"}, 409),
                        ({"camera_id": str(uuid.uuid4())}, 404)):
        resp = await api.call("POST", "/api/v1/access/grants", Role.ADMIN, json=bad)
        assert resp.status == status, (bad, await resp.text())
    models = {m["name"]: m for m in (await api.ok("GET", "/api/v1/analytics/models", Role.VIEWER))["items"]}
    assert models["tailgating"]["available"] is True
