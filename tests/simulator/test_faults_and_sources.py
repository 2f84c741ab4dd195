"""Per-camera faults, video-file sources and many cameras sharing one encoded loop."""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vms_camsim import (
    AuthMode,
    FaultConfig,
    SceneKind,
    SimulatorConfig,
    SimulatorHandle,
    decode_stamp,
)

from .helpers import RawRtsp, RtpPacket, small_camera

TCP = "RTP/AVP/TCP;unicast;interleaved=0-1"


async def _play(sim: SimulatorHandle, camera: str) -> RawRtsp:
    assert sim.rtsp is not None
    client = await RawRtsp.connect(sim.rtsp.port)
    url = sim.rtsp_url(camera)
    setup = await client.request("SETUP", url + "/trackID=0", {"Transport": TCP})
    assert setup.status == 200
    played = await client.request("PLAY", url, {"Session": setup.headers["session"].split(";")[0]})
    assert played.status == 200
    return client


def _nal_types(packets: list[RtpPacket]) -> set[int]:
    types = set()
    for p in packets:
        if p.channel != 0:
            continue
        kind = p.payload[0] & 0x1F
        types.add(p.payload[1] & 0x1F if kind == 28 else kind)
    return types


@pytest.fixture
async def faulty() -> AsyncIterator[SimulatorHandle]:
    def cam(name: str, **faults: object) -> object:
        return small_camera(name, auth=AuthMode.NONE, faults=FaultConfig.model_validate(faults))

    config = SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[
        cam("clean"), cam("dropper", drop_every_s=1.0), cam("staller", stall_every_s=1.5, stall_for_s=1.0),
        cam("nokey", no_keyframes_after_s=2.5), cam("corrupt", corrupt_every_n_frames=3),
        small_camera("locked", faults=FaultConfig(refuse_auth=True)),
    ])
    async with SimulatorHandle.start(config) as handle:
        yield handle


async def test_refuse_auth_rejects_correct_credentials(faulty: SimulatorHandle) -> None:
    assert faulty.rtsp is not None
    client = await RawRtsp.connect(faulty.rtsp.port)
    good = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}
    assert (await client.request("DESCRIBE", faulty.rtsp_url("locked"), good)).status == 401
    await client.close()


async def test_drop_closes_the_connection(faulty: SimulatorHandle) -> None:
    client = await _play(faulty, "dropper")
    started = time.monotonic()
    with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
        await client.read_packets(4.0)
    assert 0.8 < time.monotonic() - started < 3.0


async def test_stall_leaves_a_gap(faulty: SimulatorHandle) -> None:
    client = await _play(faulty, "staller")
    arrivals: list[float] = []
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:
        before = len(client.packets)
        await client.read_packets(0.05)
        if len(client.packets) > before:
            arrivals.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert arrivals and max(gaps) > 0.7
    await client.close()


async def test_keyframes_stop(faulty: SimulatorHandle) -> None:
    client = await _play(faulty, "nokey")
    early = await client.read_packets(2.3)  # 1 s GOP: at least one keyframe in here
    await client.read_packets(0.4)  # straddles the moment keyframes stop
    late = await client.read_packets(2.0)
    assert 5 in _nal_types(early)
    assert 5 not in _nal_types(late) and 1 in _nal_types(late)  # P slices only
    await client.close()


async def test_corrupt_nal_units(faulty: SimulatorHandle) -> None:
    clean, corrupt = await _play(faulty, "clean"), await _play(faulty, "corrupt")
    reference = {p.payload for p in await clean.read_packets(3.5)}  # > 1 s keyframe wait + 2 s loop
    received = [p for p in await corrupt.read_packets(0.5) if p.channel == 0]
    garbled = [p for p in received if p.payload not in reference]
    assert garbled and len(garbled) < len(received) / 2
    assert all(p.marker for p in garbled)  # the last packet of a frame is the one garbled
    await clean.close()
    await corrupt.close()


async def test_many_cameras_share_one_encoded_loop() -> None:
    config = SimulatorConfig(rtsp_port=0, onvif_port=None,
                             cameras=[small_camera(f"cam{i}") for i in range(1, 17)])
    async with SimulatorHandle.start(config) as sim:
        mains = {id(sim.camera(f"cam{i}").feeds["main"]) for i in range(1, 17)}
        subs = {id(sim.camera(f"cam{i}").feeds["sub"]) for i in range(1, 17)}
        assert len(mains) == 1 and len(subs) == 1


def _write_video_blocking(path: Path) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        stream.time_base = Fraction(1, 10)
        for i in range(30):
            picture = np.full((96, 160, 3), (i * 8) % 255, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _first_frames_blocking(url: str, count: int) -> list[np.ndarray]:
    frames = []
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=10) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == count:
                return frames
    return frames


@pytest.mark.slow
async def test_video_file_source(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    await asyncio.to_thread(_write_video_blocking, video)
    camera = small_camera("file", scene=SceneKind.FILE, video_file=video, loop_seconds=5, auth=AuthMode.NONE)
    config = SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[camera])
    async with SimulatorHandle.start(config) as sim:
        frames = await asyncio.to_thread(_first_frames_blocking, sim.rtsp_url("file"), 5)
    assert len(frames) == 5 and frames[0].shape == (176, 320, 3)
    assert all(decode_stamp(f) is not None for f in frames)
    stamp = decode_stamp(frames[0])
    assert stamp is not None and stamp.period_ms == 2000  # the 3 s clip gives a 2 s whole-second loop
