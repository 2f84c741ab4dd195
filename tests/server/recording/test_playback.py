"""Timeline, snapshot, fMP4 playback, export across segments, and live view over one connection."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import logging
import struct
import uuid
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from sqlalchemy import select

from tests.conftest import seed
from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, recording_settings, wait_for
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.playback.keys import PLAYBACK
from vms_server.recording.keys import RECORDER
from vms_server.recording.models import RecordingSegment

pytestmark = pytest.mark.slow


async def _rows(api: ApiClient, camera_id: str, count: int) -> list[RecordingSegment] | None:
    async with api.client.app[keys.SESSIONS]() as session:
        rows = list((await session.scalars(select(RecordingSegment).where(
            RecordingSegment.camera_id == uuid.UUID(camera_id)).order_by(RecordingSegment.start_at))).all())
    return rows if len(rows) >= count else None


def _decode(data: bytes) -> tuple[int, float]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        times = [f.time for f in container.decode(stream) if f.time is not None]
    return len(times), (max(times) - min(times)) if times else 0.0


async def test_export_playback_snapshot(lite_api: ApiClient, sim: SimulatorHandle, tmp_path: Path) -> None:
    camera_id = await add_camera(lite_api, sim.rtsp_url("cam1", "main"))
    rows = await wait_for(lambda: _rows(lite_api, camera_id, 4), limit=40)
    start = rows[0].start_at + dt.timedelta(seconds=1)
    end = rows[2].end_at - dt.timedelta(seconds=0.5)  # three segments, cut inside the first and the last
    wanted = (end - start).total_seconds()

    job = await lite_api.ok("POST", "/api/v1/exports", Role.VIEWER, status=202, json={
        "camera_id": camera_id, "start": start.isoformat(), "end": end.isoformat()})
    assert job["state"] == "queued"
    done = await wait_for(lambda: _export_done(lite_api, job["id"]), limit=30)
    assert done["state"] == "done" and done["progress"] == 1.0
    resp = await lite_api.call("GET", f"/api/v1/exports/{job['id']}/file", Role.VIEWER)
    assert resp.status == 200 and resp.headers["Content-Type"] == "video/mp4"
    data = await resp.read()
    frames, span = _decode(data)
    # Starts at the keyframe before `start` (at most one GOP, 1 s, early), ends at `end`.
    assert wanted - 0.3 <= span <= wanted + 1.2
    assert frames >= int(wanted * 10 * 0.9)

    resp = await lite_api.call("GET", f"/api/v1/cameras/{camera_id}/playback.mp4", Role.VIEWER, params={
        "start": start.isoformat(), "end": (start + dt.timedelta(seconds=3)).isoformat()})
    assert resp.status == 200
    frames, span = _decode(await resp.read())
    assert 2.5 <= span <= 4.3 and frames >= 25

    at = rows[1].start_at + dt.timedelta(seconds=0.5)
    resp = await lite_api.call("GET", f"/api/v1/cameras/{camera_id}/snapshot", Role.VIEWER,
                              params={"at": at.isoformat()})
    assert resp.status == 200 and resp.headers["Content-Type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(await resp.read(), np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (240, 320, 3)

    resp = await lite_api.call("GET", f"/api/v1/cameras/{camera_id}/snapshot", Role.VIEWER)  # live
    assert resp.status == 200
    assert cv2.imdecode(np.frombuffer(await resp.read(), np.uint8), cv2.IMREAD_COLOR).shape == (240, 320, 3)

    # An inverted period is empty (issue 20: a meaning the schema allows, not a refusal it cannot state).
    inverted = {"start": end.isoformat(), "end": start.isoformat()}
    assert await lite_api.ok("GET", f"/api/v1/cameras/{camera_id}/recordings", Role.VIEWER,
                             params=inverted) == {"ranges": [], "gaps": []}
    nothing = await lite_api.call("GET", f"/api/v1/cameras/{camera_id}/playback.mp4", Role.VIEWER, params=inverted)
    assert nothing.status == 404
    for path, body in (("/api/v1/exports", {}), ("/api/v1/evidence-locks", {"reason": "case 7"})):
        resp = await lite_api.call("POST", path, Role.SUPERVISOR, json={"camera_id": camera_id, **inverted, **body})
        assert resp.status == 404, path
    too_long = await lite_api.call("POST", "/api/v1/exports", Role.VIEWER, json={
        "camera_id": camera_id, "start": "2001-01-01T00:00:00Z", "end": "2001-02-01T00:00:00Z"})
    assert too_long.status == 403 and (await too_long.json())["error"]["code"] == "range_too_long"
    empty = await lite_api.call("POST", "/api/v1/exports", Role.VIEWER, json={
        "camera_id": camera_id, "start": "2001-01-01T00:00:00Z", "end": "2001-01-01T00:01:00Z"})
    # Nothing recorded there: refused up front, not accepted and failed in the background (issue 21).
    assert empty.status == 404 and (await empty.json())["error"]["code"] == "nothing_recorded"
    unauth = await lite_api.call("GET", f"/api/v1/cameras/{camera_id}/playback.mp4", None,
                                params={"start": start.isoformat(), "end": end.isoformat()})
    assert unauth.status == 401


async def _export_done(api: ApiClient, job_id: str) -> dict[str, object] | None:
    body = await api.ok("GET", f"/api/v1/exports/{job_id}", Role.VIEWER)
    return body if body["state"] in ("done", "failed") else None


async def test_live_two_viewers_one_connection(lite_api: ApiClient, sim: SimulatorHandle,
                                               caplog: pytest.LogCaptureFixture) -> None:
    camera_id = await add_camera(lite_api, sim.rtsp_url("cam1", "main"), sub_url=sim.rtsp_url("cam1", "sub"))
    await wait_for(lambda: _online(lite_api, camera_id))
    assert sim.rtsp is not None
    connections_before = len(sim.rtsp._connections)  # main (recording) and sub

    token = (await lite_api.login(Role.VIEWER))["access_token"]
    clients = [await lite_api.client.ws_connect(f"/api/v1/cameras/{camera_id}/live/ws?stream=sub&access_token={token}")
               for _ in range(2)]
    try:
        for ws in clients:
            header = json.loads((await ws.receive(timeout=10)).data)
            assert header["type"] == "stream" and header["codec"] == "h264"
            assert (header["width"], header["height"]) == (160, 120)
            first = (await ws.receive(timeout=10)).data
            wall_us, flags = struct.unpack(">qB", first[:9])
            assert flags & 1  # starts with a keyframe
            assert abs(wall_us / 1e6 - dt.datetime.now(dt.UTC).timestamp()) < 5
            decoder = av.CodecContext.create("h264", "r")
            pictures = decoder.decode(av.Packet(first[9:]))
            for _ in range(10):
                pictures += decoder.decode(av.Packet((await ws.receive(timeout=10)).data[9:]))
            assert pictures and pictures[0].width == 160
        assert len(sim.rtsp._connections) == connections_before  # viewers added no camera connection
        # A viewer whose network drops (no close handshake) ends quietly: no ERROR line for the operator's log.
        clients[0]._conn.transport.abort()  # type: ignore[union-attr]
        await asyncio.sleep(1.5)
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
        assert len((await clients[1].receive(timeout=10)).data) > 9  # the other viewer goes on
    finally:
        for ws in clients:
            await ws.close()


async def _online(api: ApiClient, camera_id: str) -> bool:
    status = await api.ok("GET", f"/api/v1/cameras/{camera_id}/status", Role.VIEWER)
    return bool(status["streams"]) and all(s["state"] == "online" for s in status["streams"])


async def test_clip_reaches_into_the_segment_being_written(tmp_path: Path, sqlite_url: str, aiohttp_client: Any,
                                                           sim: SimulatorHandle) -> None:
    from vms_server.app import create_app

    settings = recording_settings(tmp_path, sqlite_url, segment_seconds=120)
    api = ApiClient(await aiohttp_client(create_app(settings)), await seed(settings))
    camera_id = await add_camera(api, sim.rtsp_url("cam1", "main"))
    recorder = await wait_for(lambda: _recording(api, camera_id))
    await asyncio.sleep(4)
    assert await _rows(api, camera_id, 1) is None  # nothing finalised yet: all of it is in the open segment
    assert recorder.open_file() is not None
    end = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=0.5)
    clip = await api.client.app[PLAYBACK].cut_clip(uuid.UUID(camera_id), end - dt.timedelta(seconds=2.5), end,
                                                        tmp_path / "clip.mp4")
    frames, span = _decode(clip.read_bytes())
    assert 2.0 <= span <= 3.6 and frames >= 20


def _recording(api: ApiClient, camera_id: str) -> Any:
    recorder = api.client.app[RECORDER].recorder(uuid.UUID(camera_id))
    return recorder if recorder is not None and recorder.current() is not None else None


async def test_hls_and_status_push(lite_api: ApiClient, sim: SimulatorHandle) -> None:
    token = (await lite_api.login(Role.VIEWER))["access_token"]
    hub = await lite_api.client.ws_connect(f"/api/v1/ws?access_token={token}")
    camera_id = await add_camera(lite_api, sim.rtsp_url("cam1", "main"), sub_url=sim.rtsp_url("cam1", "sub"))
    try:
        while True:  # camera.status is pushed when a stream changes state and when recording starts
            message = await hub.receive_json(timeout=15)
            data = message["data"]
            if message["type"] == "camera.status" and data["camera_id"] == camera_id and any(
                    s["state"] == "online" for s in data["streams"]) and data["recording"]:
                break
    finally:
        await hub.close()
    base = f"/api/v1/cameras/{camera_id}/live/hls"
    resp = await lite_api.call("GET", f"{base}/index.m3u8", None, params={"stream": "sub", "access_token": token})
    assert resp.status == 200, await resp.text()
    playlist = await resp.text()
    assert playlist.startswith("#EXTM3U") and "init.mp4?stream=sub&access_token=" in playlist
    first = next(line for line in playlist.splitlines() if line and not line.startswith("#"))
    init = await lite_api.call("GET", f"{base}/init.mp4", None, params={"stream": "sub", "access_token": token})
    media = await lite_api.call("GET", f"{base}/{first.split('?')[0]}", None,
                                params={"stream": "sub", "access_token": token})
    assert init.status == 200 and media.status == 200
    frames, _ = _decode(await init.read() + await media.read())
    assert frames >= 3
    denied = await lite_api.call("GET", f"{base}/index.m3u8", None)
    assert denied.status == 401
    traversal = await lite_api.call("GET", f"{base}/..%2Fsecret.key", None, params={"access_token": token})
    assert traversal.status == 404
