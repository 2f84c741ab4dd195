"""The server with `recording.ingest_workers` = 2 (issue 22): every camera is recorded in an ingest worker process
and indexed by the server, live view is relayed from the worker, and a worker killed with SIGKILL is restarted:
its cameras record again within 5 s, having lost at most one fragment each."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import struct
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import av
import pytest
from sqlalchemy import select

from tests.conftest import seed
from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, camera, recording_settings, wait_for
from tests.server.recording.test_modes import set_policy
from vms_camsim.config import AuthMode, CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.recording.keys import RECORDER
from vms_server.recording.models import RecordingSegment
from vms_server.watchdog.models import Incident

GOP_S = 1.0
CAMERAS = 3


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    stream = StreamConfig(width=320, height=240, fps=10, bitrate_kbps=300, gop_seconds=GOP_S)
    cams = [CameraConfig(name=f"cam{i}", auth=AuthMode.NONE, sub=None, main=stream) for i in range(CAMERAS)]
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cams)) as handle:
        yield handle


async def _segments(api: ApiClient) -> list[RecordingSegment]:
    async with api.client.app[keys.SESSIONS]() as session:
        return list((await session.scalars(select(RecordingSegment))).all())


def _us(segment: RecordingSegment, end: bool = False) -> int:
    return int((segment.end_at if end else segment.start_at).timestamp() * 1e6)


async def _live_frames(api: ApiClient, ws: Any, count: int) -> int:
    """Decodes `count` pictures of the live WebSocket (waiting through a break), returns their width."""
    decoder = av.CodecContext.create("h264", "r")
    pictures: list[Any] = []
    while len(pictures) < count:
        message = await ws.receive(timeout=30)
        if isinstance(message.data, bytes):
            _wall_us, _flags = struct.unpack(">qB", message.data[:9])
            pictures += decoder.decode(av.Packet(message.data[9:]))
    return int(pictures[0].width)


async def _hls_frames(api: ApiClient, camera_id: str, token: str) -> int:
    base, params = f"/api/v1/cameras/{camera_id}/live/hls", {"stream": "main", "access_token": token}

    async def playlist() -> str | None:
        resp = await api.call("GET", f"{base}/index.m3u8", None, params=params)
        text = await resp.text()
        return text if resp.status == 200 and "#EXTINF" in text else None

    first = next(line for line in (await wait_for(playlist, limit=30)).splitlines() if line and line[0] != "#")
    init = await api.call("GET", f"{base}/init.mp4", None, params=params)
    media = await api.call("GET", f"{base}/{first.split('?')[0]}", None, params=params)
    assert init.status == 200 and media.status == 200
    with av.open(io.BytesIO(await init.read() + await media.read())) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("reader", ["ffmpeg", "native"])
async def test_the_server_records_through_ingest_workers_and_survives_a_killed_one(
        tmp_path: Path, sqlite_url: str, aiohttp_client: Any, sim: SimulatorHandle,
        caplog: pytest.LogCaptureFixture, reader: str) -> None:
    from vms_server.app import create_app

    settings = recording_settings(tmp_path, sqlite_url, ingest_workers=2, segment_seconds=4.0, fsync_interval_s=0.5,
                                  ingest_reader=reader)
    api = ApiClient(await aiohttp_client(create_app(settings)), await seed(settings))
    service = api.client.app[RECORDER]
    assert service.pool is not None
    pool = service.pool.pool
    assert len(set(pool.pids())) == 2 and os.getpid() not in pool.pids()
    ids = [await add_camera(api, sim.rtsp_url(f"cam{i}"), name=f"cam{i}") for i in range(CAMERAS)]

    # Every camera is recorded in a worker process and its segments are indexed here; its status says so.
    async def indexed() -> bool:
        return {str(s.camera_id) for s in await _segments(api)} == set(ids)

    await wait_for(indexed, limit=90)

    async def recording_and_online() -> bool:
        # Waited for, not read once: with the simulator in this process, a loaded machine can stall its cameras
        # past the 3 s read timeout, and the stream is then rightly shown offline until its next packet (stop 35).
        statuses = [await api.ok("GET", f"/api/v1/cameras/{c}/status", Role.VIEWER) for c in ids]
        return all(s["recording"] and [m["state"] for m in s["streams"]] == ["online"] for s in statuses)

    await wait_for(recording_and_online, limit=30)
    assert len({pool.worker_pid(c) for c in ids}) == 2  # spread over both workers
    detail = await api.ok("GET", "/health/detailed", Role.SUPERVISOR)
    line = next(c["detail"] for c in detail["components"] if c["name"] == "recording")
    assert all(str(pid) in line for pid in pool.pids()), line

    # Live view: frames relayed from the worker of the camera, with no second camera connection.
    assert sim.rtsp is not None
    connections = len(sim.rtsp._connections)
    token = (await api.login(Role.VIEWER))["access_token"]
    ws = await api.client.ws_connect(f"/api/v1/cameras/{ids[0]}/live/ws?stream=main&access_token={token}")
    try:
        header = await ws.receive_json(timeout=20)
        while header["type"] == "status":  # until the worker's first relayed packets reach this process
            assert header["state"] == "connecting", header
            header = await ws.receive_json(timeout=20)
        assert header["type"] == "stream" and header["codec"] == "h264"
        assert await _live_frames(api, ws, 10) == 320
        assert len(sim.rtsp._connections) == connections
        # HLS is muxed here from the relayed packets (no PyAV stream to copy from the worker).
        assert await _hls_frames(api, ids[1], token) >= 3

        # SIGKILL the worker of the watched camera.
        victim = pool.worker_pid(ids[0])
        assert victim is not None
        mine = [c for c in ids if pool.worker_pid(c) == victim]
        killed_us = time.time_ns() // 1000
        os.kill(victim, signal.SIGKILL)
        await wait_for(lambda: pool.worker_pid(ids[0]) not in (None, victim), limit=30)
        assert pool.restarts == 1

        async def incident() -> list[Incident]:  # the watchdog files it
            async with api.client.app[keys.SESSIONS]() as session:
                return list((await session.scalars(select(Incident).where(
                    Incident.service.startswith("ingest-worker:")))).all())

        assert "restarted with its cameras" in (await wait_for(incident, limit=30))[0].message

        async def resumed() -> dict[str, int]:
            first: dict[str, int] = {}
            for s in sorted(await _segments(api), key=_us):
                if str(s.camera_id) in mine and s.reason != "recovered" and _us(s) > killed_us:
                    first.setdefault(str(s.camera_id), _us(s))
            return first if set(first) == set(mine) else {}

        first = await wait_for(resumed, limit=60)
        after = {c: round((us - killed_us) / 1e6, 2) for c, us in first.items()}
        print("recording again after", after, "s")
        assert all(seconds < 5.0 for seconds in after.values()), after
        # What each camera had written before the kill is indexed up to at most one fragment (a GOP) before it,
        # plus the flush slack of a loaded machine.
        rows = await _segments(api)
        for camera_id in mine:
            kept = max(_us(s, end=True) for s in rows if str(s.camera_id) == camera_id and _us(s) < killed_us)
            assert killed_us - kept <= (2 * GOP_S + 1.0) * 1e6, (camera_id, (killed_us - kept) / 1e6)
        # The viewer goes on with the restarted worker's frames.
        assert await _live_frames(api, ws, 10) == 320
    finally:
        await ws.close()
    # No consumer in this process failed on a relayed packet (they are bytes, not PyAV packets).
    assert not [r for r in caplog.records if "consumer failed" in r.getMessage()]
    # Removing a camera takes it out of its worker; the others go on.
    await api.ok("DELETE", f"/api/v1/cameras/{ids[-1]}", Role.ADMIN, status=204)
    await wait_for(lambda: uuid.UUID(ids[-1]) not in service.ingest.runtimes and ids[-1] not in pool.cameras,
                   limit=30)


async def _at_least(value: Callable[[], Awaitable[float]], floor: float) -> bool:
    return await value() >= floor


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_policies_and_triggers_reach_the_ingest_worker(tmp_path: Path, sqlite_url: str,
                                                             aiohttp_client: Any) -> None:
    """A saved policy is applied in the worker at once, an event trigger (the API, as analytics do) and motion
    found on the sub stream in this process start recording there."""
    from vms_server.app import create_app

    settings = recording_settings(tmp_path, sqlite_url, ingest_workers=1)
    api = ApiClient(await aiohttp_client(create_app(settings)), await seed(settings))
    config = SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[camera()])
    async with SimulatorHandle.start(config) as sim:
        camera_id = await add_camera(api, sim.rtsp_url("cam1", "main"), sub_url=sim.rtsp_url("cam1", "sub"))
        await set_policy(api, camera_id, continuous=False, event=True, pre_s=2, post_s=2)

        async def status() -> dict[str, Any]:
            body: dict[str, Any] = await api.ok("GET", f"/api/v1/cameras/{camera_id}/status", Role.VIEWER)
            return body

        async def idle() -> bool:  # online, and not recording: continuous is off in the worker
            body = await status()
            return all(s["state"] == "online" for s in body["streams"]) and not body["recording"]

        await wait_for(idle, limit=30)
        await asyncio.sleep(3)  # the worker's recorder fills its pre-roll ring (2 s) from the policy change on
        body = await api.ok("POST", f"/api/v1/cameras/{camera_id}/recording/trigger", Role.SUPERVISOR,
                            json={"reason": "intrusion", "pre_s": 2, "post_s": 2})
        assert body == {"recording": True}

        async def rows(reason: str) -> list[RecordingSegment]:
            return [s for s in await _segments(api) if s.reason == reason]

        async def event_s() -> float:
            return sum((s.end_at - s.start_at).total_seconds() for s in await rows("event:intrusion"))

        await wait_for(lambda: _at_least(event_s, 3.0), limit=30)  # the pre-roll (2 s) and the post-roll (2 s)
        ended = max(s.end_at for s in await rows("event:intrusion")).timestamp()
        pool = api.client.app[RECORDER].pool
        assert pool is not None

        def stopped() -> bool:  # a report sent after the post-roll says the worker no longer records
            reported = pool.reported(uuid.UUID(camera_id))
            return reported.get("sent_at", 0) > ended + 0.5 and not reported["recording"]

        await wait_for(stopped, limit=30)
        assert await event_s() <= 6.0  # and no more
        await set_policy(api, camera_id, continuous=False, event=False, motion=True, motion_sensitivity=0.9,
                         pre_s=1, post_s=2)
        assert (await status())["motion_source"] == "frames"
        await wait_for(lambda: rows("motion"), limit=30)
