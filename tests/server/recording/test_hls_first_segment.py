"""The first segment of a fresh live HLS tap, against the simulator's sub stream (160x120, 5 fps, 1 s GOPs, a
capture-time stamp painted into every picture): it starts at a keyframe and every frame it holds decodes to the
camera's picture.

The second test is the case test_browser used to hit (about 1 run in 3): the test process froze for seconds
(Playwright deserialising the page's samples on the event loop) and the in-process simulator, starved, skipped
ahead mid-GOP, sending P-frames whose reference pictures never went out. The stale keyframe before the freeze
left FFmpeg's parser only when the next frame came, so a tap registered meanwhile opened on it and muxed the
orphaned P-frames: "frames 1-6 missing, the rest smeared". The tap only muxes what the camera sent; a camera
(and now the simulator) that drops pictures resumes at a keyframe.

The taps are driven directly on a stream worker (no server, no database): the tap's code path is the same.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from tests.server.recording.conftest import wait_for
from vms_camsim.barcode import decode_stamp
from vms_camsim.handle import SimulatorHandle
from vms_camsim.rtp import PacketTemplate
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import PacketConsumer, StreamWorker, WorkerOptions
from vms_server.playback.hls_tap import HlsTap

FPS = 5  # tests.server.recording.conftest.SMALL_SUB
TAPS = 10
STALLS = 5


class _Stream:
    """What a tap uses of ingest's Stream, over one worker."""

    def __init__(self, worker: StreamWorker) -> None:
        self.worker = worker

    def add(self, consumer: PacketConsumer) -> None:
        self.worker.add(consumer)

    def remove(self, consumer: PacketConsumer) -> None:
        self.worker.remove(consumer)

    @property
    def info(self) -> StreamInfo | None:
        return self.worker.info


@dataclass
class Segment:
    extinf: float
    frames: list[tuple[float, bool, bool]]  # (seconds from the segment's start, keyframe, stamp reads)


@pytest.fixture
async def sub(sim: SimulatorHandle) -> AsyncIterator[_Stream]:
    worker = StreamWorker("cam", "sub", lambda: sim.rtsp_url("cam1", "sub"), WorkerOptions(read_timeout_s=5))
    worker.start()
    try:
        await wait_for(lambda: worker.info is not None and worker.gop(), limit=30)
        yield _Stream(worker)
    finally:
        await asyncio.to_thread(worker.stop_blocking)


async def _first_segment(tap: HlsTap) -> Segment:
    """The tap's first listed segment, demuxed and decoded (waits for the playlist to list one)."""

    def listed() -> str | None:
        text = tap.playlist.read_text() if tap.playlist.exists() else ""
        return text if ".m4s" in text else None

    text = await wait_for(listed, limit=30, interval=0.05)
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("#EXTINF"))
    extinf = float(lines[index].split(":")[1].rstrip(","))
    data = (tap.directory / "init.mp4").read_bytes() + (tap.directory / lines[index + 1]).read_bytes()
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.video[0]
        keys = [bool(p.is_keyframe) for p in container.demux(stream) if p.size]
    with av.open(io.BytesIO(data), "r") as container:
        decoded = [
            (float(f.time or 0.0), decode_stamp(f.to_ndarray(format="gray")) is not None)
            for f in container.decode(video=0)
        ]
    assert len(keys) == len(decoded), f"{len(keys)} packets but {len(decoded)} pictures decode"
    return Segment(extinf, [(t, key, ok) for (t, ok), key in zip(decoded, keys, strict=True)])


def _readable(segment: Segment) -> None:
    assert segment.frames and segment.frames[0][1], f"the first segment does not start at a keyframe: {segment}"
    unreadable = [round(t * FPS) for t, _, ok in segment.frames if not ok]
    assert not unreadable, f"frames {unreadable} of the first segment decode without their stamp: {segment}"


async def test_fresh_taps_start_with_a_whole_first_segment(sub: _Stream, tmp_path: Path) -> None:
    """Ten taps opened one after the other on one connection (each stopped before the next, in the same
    directory, as the playback service does): each first segment is keyframe-first, contiguous (no gap over
    1.5 frame intervals) and as long as the playlist says, and every stamp reads."""
    for _ in range(TAPS):
        tap = HlsTap(sub, tmp_path / "hls")  # type: ignore[arg-type]  # the tap needs only add/remove/info
        try:
            segment = await _first_segment(tap)
        finally:
            await asyncio.to_thread(tap.stop)
        _readable(segment)
        times = [t for t, _, _ in segment.frames]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert times[0] == 0.0 and all(0 < g <= 1.5 / FPS for g in gaps), f"frames missing: {segment}"
        assert abs(len(times) / FPS - segment.extinf) <= 1.5 / FPS, f"the playlist's duration lies: {segment}"


async def _tap_opened_in_a_freeze(sim: SimulatorHandle, sub: _Stream, directory: Path) -> HlsTap:
    """Right after the camera sent a keyframe, register a tap and freeze the event loop (the simulator with it)
    for 1.3 s; returns the tap once the loop runs again."""
    feed = sim.cameras["cam1"].feeds["sub"]
    loop = asyncio.get_running_loop()
    opened: asyncio.Future[HlsTap] = loop.create_future()

    def freeze() -> None:
        tap = HlsTap(sub, directory)  # type: ignore[arg-type]  # the tap needs only add/remove/info
        time.sleep(1.3)  # the freeze under test, not a synchronisation: everything on this loop stops
        opened.set_result(tap)

    class Trigger:
        """A second sink on the camera's feed: once a keyframe went out, freeze the loop."""

        def on_frame(self, template: PacketTemplate, capture_time: float) -> None:
            if template.keyframe and not opened.done():
                feed.unsubscribe(self)
                loop.call_soon(freeze)  # after the fan-out: the keyframe is on the wire first

    feed.subscribe(Trigger())
    return await asyncio.wait_for(opened, 10)


async def test_a_tap_opened_as_the_camera_stalls_holds_no_orphaned_frames(
    sim: SimulatorHandle, sub: _Stream, tmp_path: Path
) -> None:
    """The process (camera included) freezes for 1.3 s right after the camera sent a keyframe, and a tap is
    registered meanwhile: it opens on that keyframe, which FFmpeg's parser hands over only with the next frame
    after the freeze. Every frame of its first segment must still decode to the camera's picture. Before the
    simulator resumed at a keyframe, 10 tries of 10 failed here (EXTINF 2.0, frames 7-9 of the GOP after the
    keyframe, none of their stamps reading): the browser test's symptom."""
    for attempt in range(STALLS):
        tap = await _tap_opened_in_a_freeze(sim, sub, tmp_path / f"hls{attempt}")
        try:
            segment = await _first_segment(tap)
        finally:
            await asyncio.to_thread(tap.stop)
        _readable(segment)
