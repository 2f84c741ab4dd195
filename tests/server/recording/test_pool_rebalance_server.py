"""The server evens its ingest workers out by itself and on request (issue 22): with `recording.ingest_workers` = 2,
removing both cameras of one worker leaves it empty and the other with two; after the settle delay
(`recording.ingest_rebalance_s`) the server moves one of them, at a keyframe, and its footage goes on without a gap.
`/api/v1/recording/workers` shows the workers, and an administrator can move a camera or ask for a rebalance."""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import seed
from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, recording_settings, wait_for
from vms_camsim.config import AuthMode, CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.recording.keys import RECORDER
from vms_server.recording.models import RecordingSegment
from vms_server.recording.pool_ingest import PoolRecording

FPS = 10
FRAME_US = 1_000_000 // FPS
CAMERAS = 4
WORKERS = "/api/v1/recording/workers"


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    stream = StreamConfig(width=320, height=240, fps=FPS, bitrate_kbps=300, gop_seconds=1.0)
    cams = [CameraConfig(name=f"cam{i}", auth=AuthMode.NONE, sub=None, main=stream) for i in range(CAMERAS)]
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cams)) as handle:
        yield handle


async def _segments(api: ApiClient, camera_id: str) -> list[tuple[int, int, int]]:
    """(start_us, end_us, frames) of a camera's indexed segments, in order."""
    async with api.client.app[keys.SESSIONS]() as session:
        rows = (
            await session.scalars(select(RecordingSegment).where(RecordingSegment.camera_id == uuid.UUID(camera_id)))
        ).all()
    return sorted((int(r.start_at.timestamp() * 1e6), int(r.end_at.timestamp() * 1e6), r.frames) for r in rows)


def _counts(pool: PoolRecording, ids: list[str]) -> dict[int, list[str]]:
    by: dict[int, list[str]] = {0: [], 1: []}
    for camera_id in ids:
        worker = pool.worker_of(uuid.UUID(camera_id))
        if worker is not None:
            by[worker].append(camera_id)
    return by


def _balanced(pool: PoolRecording, ids: list[str]) -> bool:
    return sorted(len(c) for c in _counts(pool, ids).values()) == [1, 1] and not pool.balancer.pending()


def _logged(caplog: pytest.LogCaptureFixture, text: str) -> logging.LogRecord:
    return next(r for r in caplog.records if text in r.getMessage() and r.levelno == logging.INFO)


async def _assert_no_gap_across(api: ApiClient, camera_id: str, asked_us: int, moved_us: int) -> None:
    """The seam check of test_pool_move, on the index: the camera's segments around the move follow each other
    (at most a frame's overlap, under 0.5 s apart: a cut is exact, the slack is for a loaded machine), one ends
    after the move was asked and the next starts before it was done, and none misses a frame inside."""

    async def recorded_after() -> list[tuple[int, int, int]]:
        mine = await _segments(api, camera_id)
        return mine if any(start > moved_us for start, _, _ in mine) else []

    mine = await wait_for(recorded_after, limit=60)
    around = [s for s in mine if s[1] >= asked_us - 10_000_000]
    for before, after in itertools.pairwise(around):
        assert -FRAME_US - 20_000 <= after[0] - before[1] <= 500_000, (camera_id, around)
    seam = next(i for i, s in enumerate(around) if s[0] >= asked_us)
    assert seam > 0 and around[seam - 1][1] >= asked_us and around[seam][0] <= moved_us, around
    for start, end, frames in around:
        assert abs(frames - (end - start) / FRAME_US) <= 1, around


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_the_server_rebalances_its_ingest_workers_by_itself_and_when_asked(
    tmp_path: Path, sqlite_url: str, aiohttp_client: Any, sim: SimulatorHandle, caplog: pytest.LogCaptureFixture
) -> None:
    from vms_server.app import create_app

    caplog.set_level(logging.INFO, logger="vms_server.recording")
    # A settle delay of 1 s (10 s by default) keeps the test short; segments of 3 s put cuts on both sides.
    settings = recording_settings(
        tmp_path, sqlite_url, ingest_workers=2, segment_seconds=3.0, fsync_interval_s=0.5, ingest_rebalance_s=1.0
    )
    api = ApiClient(await aiohttp_client(create_app(settings)), await seed(settings))
    pool = api.client.app[RECORDER].pool
    assert pool is not None
    ids = [await add_camera(api, sim.rtsp_url(f"cam{i}"), name=f"cam{i}") for i in range(CAMERAS)]

    async def all_recorded() -> bool:
        return all([await _segments(api, c) for c in ids])

    await wait_for(all_recorded, limit=90)
    by = _counts(pool, ids)
    assert sorted(len(c) for c in by.values()) == [2, 2], by  # each added to the emptiest worker

    # Take both cameras of worker 0 away: 0 against 2, and the server moves one of worker 1's back by itself.
    for camera_id in by[0]:
        await api.ok("PATCH", f"/api/v1/cameras/{camera_id}", Role.ADMIN, json={"enabled": False})
    await wait_for(lambda: not any(pool.worker_of(uuid.UUID(c)) is not None for c in by[0]), limit=30)
    left = by[1]
    await wait_for(lambda: _balanced(pool, left), limit=90)
    moved = next(c for c in left if pool.worker_of(uuid.UUID(c)) == 0)
    asked = _logged(caplog, f"rebalancing the ingest workers (automatic): camera {moved} from worker 1 to 0")
    done = _logged(caplog, f"camera {moved} moved from ingest worker 1 to 0")
    asked_us, moved_us = int(asked.created * 1e6), int(done.created * 1e6)
    print("automatic move took", round((moved_us - asked_us) / 1e6, 2), "s")
    await _assert_no_gap_across(api, moved, asked_us, moved_us)
    assert len([r for r in caplog.records if "rebalancing the ingest workers" in r.getMessage()]) == 1

    # The workers as an administrator sees them.
    body = await api.ok("GET", WORKERS, Role.ADMIN)
    assert body["ingest_workers"] == 2 and body["load_figure"] == "bitrate_kbps" and body["rebalance_after_s"] == 1.0
    assert body["moves_in_progress"] == []
    assert sorted(w["pid"] for w in body["workers"]) == sorted(pool.pool.pids())
    assert [(w["number"], w["cameras"], w["restarts"]) for w in body["workers"]] == [(0, 1, 0), (1, 1, 0)]
    assert body["workers"][0]["camera_ids"] == [moved] and all(w["load"] > 0 for w in body["workers"])

    # Refused: another role, an unknown camera, a worker that does not exist, a camera not in the pool, one moved
    # to where it is.
    stays = next(c for c in left if c != moved)
    for method, path, json in (
        ("GET", WORKERS, None),
        ("POST", f"{WORKERS}/rebalance", None),
        ("POST", f"/api/v1/recording/cameras/{moved}/move", {"worker": 1}),
    ):
        resp = await api.call(method, path, Role.SUPERVISOR, json=json)
        assert resp.status == 403, (path, resp.status)

    async def refused(camera_id: object, worker: int, status: int, code: str) -> None:
        resp = await api.call(
            "POST", f"/api/v1/recording/cameras/{camera_id}/move", Role.ADMIN, json={"worker": worker}
        )
        body = await resp.json()
        assert resp.status == status and body["error"]["code"] == code, body

    await refused(uuid.uuid4(), 0, 404, "not_found")
    await refused(moved, 2, 422, "no_such_worker")
    await refused(by[0][0], 1, 409, "not_in_pool")
    await refused(moved, 0, 409, "already_there")

    # An administrator's move: answered at once, shown under way, a second request refused until it is done.
    body = await api.ok("POST", f"/api/v1/recording/cameras/{moved}/move", Role.ADMIN, json={"worker": 1}, status=202)
    assert body == {"camera_id": moved, "from_worker": 0, "to_worker": 1}
    assert (await api.ok("GET", WORKERS, Role.ADMIN))["moves_in_progress"] == [body]
    resp = await api.call("POST", f"{WORKERS}/rebalance", Role.ADMIN)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "move_in_progress"
    await refused(stays, 0, 409, "move_in_progress")
    await wait_for(lambda: pool.worker_of(uuid.UUID(moved)) == 1 and not pool.balancer.pending(), limit=60)
    # An administrator's move is not a change the server undoes by itself: 0 and 2 stay until asked.
    assert [len(c) for c in _counts(pool, left).values()] == [0, 2]

    # Asked to rebalance: one camera moves, the one planned.
    body = await api.ok("POST", f"{WORKERS}/rebalance", Role.ADMIN, status=202)
    assert len(body["moves"]) == 1 and body["moves"][0]["from_worker"] == 1 and body["moves"][0]["to_worker"] == 0
    back = body["moves"][0]["camera_id"]
    await wait_for(lambda: _balanced(pool, left), limit=60)
    assert pool.worker_of(uuid.UUID(back)) == 0
    assert (await api.ok("POST", f"{WORKERS}/rebalance", Role.ADMIN, status=202))["moves"] == []
    assert pool.pool.restarts == 0


async def test_the_worker_routes_say_when_there_are_no_ingest_workers(lite_api: ApiClient) -> None:
    camera_id = await add_camera(lite_api, "rtsp://127.0.0.1:9/nothing")
    body = await lite_api.ok("GET", WORKERS, Role.ADMIN)
    assert body["ingest_workers"] == 0 and body["workers"] == [] and body["moves_in_progress"] == []
    for path, json in ((f"{WORKERS}/rebalance", None), (f"/api/v1/recording/cameras/{camera_id}/move", {"worker": 0})):
        resp = await lite_api.call("POST", path, Role.ADMIN, json=json)
        body = await resp.json()
        assert resp.status == 409 and body["error"]["code"] == "ingest_workers_off", body
        assert "recording.ingest_workers" in body["error"]["message"]
        assert (await lite_api.call("POST", path, Role.SUPERVISOR, json=json)).status == 403
    resp = await lite_api.call("POST", f"/api/v1/recording/cameras/{uuid.uuid4()}/move", Role.ADMIN, json={"worker": 0})
    assert resp.status == 404
    resp = await lite_api.call("POST", f"/api/v1/recording/cameras/{camera_id}/move", Role.ADMIN, json={"worker": -1})
    assert resp.status == 422
