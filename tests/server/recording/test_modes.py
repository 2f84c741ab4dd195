"""Event, schedule and motion recording modes with pre- and post-roll, through the API."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, camera, frames_in, wait_for
from vms_camsim.config import AuthMode, SimulatorConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.recording.models import RecordingSegment
from vms_server.recording.motion import SIZE, changed_fraction, keep_mask

pytestmark = pytest.mark.slow


async def rows_of(api: ApiClient, camera_id: str) -> list[RecordingSegment]:
    async with api.client.app[keys.SESSIONS]() as session:
        return list((await session.scalars(select(RecordingSegment).where(
            RecordingSegment.camera_id == uuid.UUID(camera_id)).order_by(RecordingSegment.start_at))).all())


async def set_policy(api: ApiClient, camera_id: str, **policy: object) -> None:
    await api.ok("PUT", f"/api/v1/cameras/{camera_id}/recording-policy", Role.ADMIN, json=policy)


async def online_camera(api: ApiClient, sim: SimulatorHandle, **policy: object) -> str:
    camera_id = await add_camera(api, sim.rtsp_url("cam1", "main"), sub_url=sim.rtsp_url("cam1", "sub"))
    await set_policy(api, camera_id, **policy)

    async def online() -> bool:
        status = await api.ok("GET", f"/api/v1/cameras/{camera_id}/status", Role.VIEWER)
        return bool(status["streams"]) and all(s["state"] == "online" for s in status["streams"])

    await wait_for(online)
    return camera_id


async def test_event_mode_with_pre_and_post_roll(lite_api: ApiClient, sim: SimulatorHandle) -> None:
    camera_id = await online_camera(lite_api, sim, continuous=False, event=True, pre_s=2, post_s=2)
    await asyncio.sleep(3)  # longer than the pre-roll: the ring must hold it, nothing is written yet
    assert await rows_of(lite_api, camera_id) == []
    token = (await lite_api.login(Role.VIEWER))["access_token"]
    hub = await lite_api.client.ws_connect(f"/api/v1/ws?access_token={token}")
    triggered = dt.datetime.now(dt.UTC)
    body = await lite_api.ok("POST", f"/api/v1/cameras/{camera_id}/recording/trigger", Role.SUPERVISOR,
                            json={"reason": "intrusion", "pre_s": 2, "post_s": 2})
    assert body == {"recording": True}
    await wait_for(lambda: rows_of(lite_api, camera_id), limit=15)

    async def stopped() -> bool:
        status = await lite_api.ok("GET", f"/api/v1/cameras/{camera_id}/status", Role.VIEWER)
        return not status["recording"]

    await wait_for(stopped, limit=15)
    await asyncio.sleep(0.5)  # the last segment's row is written just after its file
    pushed: list[bool] = []  # the recording dot of the operator's tile follows these pushes
    while not (True in pushed and pushed[-1] is False):
        message = await hub.receive_json(timeout=10)
        if message["type"] == "camera.status" and message["data"]["camera_id"] == camera_id:
            pushed.append(message["data"]["recording"])
    await hub.close()
    rows = await rows_of(lite_api, camera_id)
    assert all(r.reason == "event:intrusion" for r in rows)
    start, end = rows[0].start_at, rows[-1].end_at
    # Pre-roll starts at the keyframe at or before trigger - 2 s (GOP 1 s); post-roll ends 2 s after.
    assert -3.3 <= (start - triggered).total_seconds() <= -1.7
    assert 1.5 <= (end - triggered).total_seconds() <= 3.5
    total = sum(frames_in(Path(r.volume) / r.path) for r in rows)
    assert abs(total - (end - start).total_seconds() * 10) <= 4
    await asyncio.sleep(2)
    assert len(await rows_of(lite_api, camera_id)) == len(rows)  # stopped after the post-roll


async def test_schedule_mode(lite_api: ApiClient, sim: SimulatorHandle) -> None:
    now = dt.datetime.now(dt.UTC)
    later = now + dt.timedelta(hours=3)
    window = {"days": [later.weekday()], "start": f"{later:%H}:00", "end": f"{later:%H}:59"}
    camera_id = await online_camera(lite_api, sim, continuous=False, event=False, schedule=[window])
    await asyncio.sleep(3)
    assert await rows_of(lite_api, camera_id) == []  # outside the time table
    await set_policy(lite_api, camera_id, continuous=False, event=False, timezone="Europe/Paris",
                     schedule=[{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "24:00"}])
    rows = await wait_for(lambda: rows_of(lite_api, camera_id), limit=15)
    assert rows[0].reason == "schedule"
    bad = await lite_api.call("PUT", f"/api/v1/cameras/{camera_id}/recording-policy", Role.ADMIN,
                             json={"schedule": [{"days": [9], "start": "25:00", "end": "x"}], "timezone": "Mars/X"})
    assert bad.status == 422


async def test_motion_mode(lite_api: ApiClient, sim: SimulatorHandle) -> None:
    began = time.time()
    camera_id = await online_camera(lite_api, sim, continuous=False, event=False, motion=True,
                                    motion_sensitivity=0.9, pre_s=1, post_s=2)
    rows = await wait_for(lambda: rows_of(lite_api, camera_id), limit=20)
    assert rows[0].reason == "motion"
    assert rows[0].start_at.timestamp() >= began - 3
    assert frames_in(Path(rows[0].volume) / rows[0].path) == rows[0].frames


async def test_motion_mask_ignores_what_it_covers(lite_api: ApiClient, sim: SimulatorHandle) -> None:
    """The whole picture masked: the moving scene records nothing; mask removed: motion records at once."""
    whole = [{"x": 0, "y": 0, "w": 1, "h": 1}]
    camera_id = await online_camera(lite_api, sim, continuous=False, event=False, motion=True,
                                    motion_sensitivity=0.9, pre_s=1, post_s=2, motion_mask=whole)
    policy = await lite_api.ok("GET", f"/api/v1/cameras/{camera_id}/recording-policy", Role.VIEWER)
    assert policy["motion_mask"] == whole
    await asyncio.sleep(5)  # several GOPs of a moving scene
    assert await rows_of(lite_api, camera_id) == []
    # A rectangle that leaves the picture is cut at its edge (issue 20: not a refusal the schema cannot state).
    cut = await lite_api.ok("PUT", f"/api/v1/cameras/{camera_id}/recording-policy", Role.ADMIN,
                            json={"motion": True, "motion_mask": [{"x": 0.75, "y": 0, "w": 0.5, "h": 1}]})
    assert cut["motion_mask"] == [{"x": 0.75, "y": 0, "w": 0.25, "h": 1}]
    await set_policy(lite_api, camera_id, continuous=False, event=False, motion=True, motion_sensitivity=0.9,
                     pre_s=1, post_s=2, motion_mask=[{"x": 0, "y": 0, "w": 0.1, "h": 0.1}])
    rows = await wait_for(lambda: rows_of(lite_api, camera_id), limit=20)
    assert rows[0].reason == "motion"


def test_masked_pixels_do_not_count() -> None:
    still = np.zeros((SIZE[1], SIZE[0]), dtype=np.uint8)
    moved = still.copy()
    moved[0:9, 48:64] = 200  # a clock overlay ticking in the top right corner
    assert changed_fraction(moved, still) > 0.05
    keep = keep_mask([{"x": 0.75, "y": 0.0, "w": 0.25, "h": 0.25}])
    assert keep is not None and changed_fraction(moved, still, keep=keep) == 0.0
    moved[20:30, 0:10] = 200  # a person walking in the unmasked part still counts
    assert changed_fraction(moved, still, keep=keep) > 0.03


async def test_motion_from_the_cameras_onvif_alarm(lite_api: ApiClient) -> None:
    """Motion source 'onvif': the camera's own motion alarm (PullPoint) holds recording open; the server
    decodes nothing for it. A camera without an ONVIF address is refused with the reason."""
    config = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[camera(auth=AuthMode.DIGEST)])
    async with SimulatorHandle.start(config) as onvif_sim:
        plain = await add_camera(lite_api, onvif_sim.rtsp_url("cam1", "main"), name="no onvif")
        bad = await lite_api.call("PUT", f"/api/v1/cameras/{plain}/recording-policy", Role.ADMIN,
                                  json={"continuous": False, "motion": True, "motion_source": "onvif"})
        assert bad.status == 422 and (await bad.json())["error"]["code"] == "no_onvif_address"
        await lite_api.ok("DELETE", f"/api/v1/cameras/{plain}", Role.ADMIN, status=204)
        added = await lite_api.ok("POST", "/api/v1/cameras/from-onvif", Role.ADMIN, status=201, json={
            "name": "door", "site_id": str(lite_api.seeded.site_id), "onvif_url": onvif_sim.onvif_url("cam1"),
            "username": "admin", "password": "admin"})
        camera_id = added["id"]
        await set_policy(lite_api, camera_id, continuous=False, event=False, motion=True, motion_source="onvif",
                         pre_s=1, post_s=2)
        rows = await wait_for(lambda: rows_of(lite_api, camera_id), limit=30)
        assert rows[0].reason == "motion" and frames_in(Path(rows[0].volume) / rows[0].path) == rows[0].frames
        status = await lite_api.ok("GET", f"/api/v1/cameras/{camera_id}/status", Role.VIEWER)
        # Motion comes from the camera's alarm alone: no frame differencing runs for it.
        assert status["motion_source"] == "onvif" and status["motion_error"] is None
