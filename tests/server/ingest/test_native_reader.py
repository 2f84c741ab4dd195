"""The native RTSP reader against the simulator over real RTSP: every picture it hands over is recorded into an
fMP4 segment that decodes with its painted stamps readable (H.264 and H.265, Digest and Basic); a camera that
goes silent is reported after the read timeout and read again once it answers; a stop ends the session at
once; a camera whose credentials are refused says so; and a pool worker records through it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import av
import numpy as np
import pytest

from tests.server.ingest.test_dead_network import BlackHoleProxy
from tests.server.ingest.test_worker import Counting
from tests.server.recording.conftest import wait_for
from vms_camsim import AuthMode, CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.barcode import decode_stamp
from vms_camsim.handle import SimulatorHandle
from vms_server.ingest.health import StreamState
from vms_server.ingest.native_worker import NativeStreamWorker, make_stream_worker
from vms_server.ingest.reactor import reactor
from vms_server.ingest.source import StreamInfo, with_credentials
from vms_server.ingest.worker import MediaPacket, StreamWorker, WorkerOptions
from vms_server.recording.segments import SegmentWriter


def _config(codec: str = "h264", auth: AuthMode = AuthMode.NONE) -> SimulatorConfig:
    stream = StreamConfig(width=640, height=360, fps=10, bitrate_kbps=800, codec=codec, gop_seconds=1.0)
    return SimulatorConfig(rtsp_port=0, onvif_port=None,
                           cameras=[CameraConfig(name="cam1", main=stream, sub=None, auth=auth)])


class Writing:
    """Records from the first keyframe into one segment, as the recorder does."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.info, self.writer = directory, None, None
        self.packets: list[MediaPacket] = []
        self.closed: list[str] = []

    def on_open(self, info: StreamInfo) -> None:
        self.info = info  # type: ignore[assignment]

    def on_packet(self, pkt: MediaPacket) -> None:
        if self.writer is None and pkt.keyframe and self.info is not None:
            self.writer = SegmentWriter(self.directory, "cam1", "main", self.info, pkt, "test")  # type: ignore[assignment]
        if self.writer is not None:
            self.writer.write(pkt)  # type: ignore[attr-defined]
            self.packets.append(pkt)

    def on_close(self, reason: str) -> None:
        self.closed.append(reason)


@pytest.mark.parametrize(("codec", "auth"), [("h264", AuthMode.DIGEST), ("h265", AuthMode.BASIC)])
async def test_every_picture_read_natively_is_recorded_and_decodes(tmp_path: Path, codec: str,
                                                                   auth: AuthMode) -> None:
    async with SimulatorHandle.start(_config(codec, auth)) as sim:
        url = sim.rtsp_url("cam1", with_credentials=True)
        writing = Writing(tmp_path)
        worker = make_stream_worker("cam1", "main", lambda: url, WorkerOptions(reader="native"))
        assert isinstance(worker, NativeStreamWorker)
        worker.add(writing)
        worker.start()
        try:
            await wait_for(lambda: len(writing.packets) >= 25, limit=20)
            assert worker.health.state == StreamState.ONLINE
            assert worker.health.time_source == "ntp"  # wall clock from the camera's RTCP sender reports
        finally:
            started = time.monotonic()
            await asyncio.to_thread(worker.stop_blocking, 5)
            assert time.monotonic() - started < 1.0, "a stop waits for the reactor's next tick, not a timeout"
        assert worker.health.state == StreamState.STOPPED and writing.closed == ["stopped"]
        info = writing.info
        assert info is not None
        assert (info.codec, info.width, info.height, info.fps) == ({"h265": "hevc"}.get(codec, codec), 640, 360, 10)
        result = writing.writer.close()  # type: ignore[attr-defined]
        with av.open(str(tmp_path / result.path)) as played:
            frames = list(played.decode(video=0))
        assert len(frames) == len(writing.packets) == result.frames
        unread = [i for i, f in enumerate(frames) if decode_stamp(np.asarray(f.to_ndarray(format="gray"))) is None]
        assert not unread, f"pictures {unread} of {len(frames)} do not decode cleanly"
        steps = {b.pts - a.pts for a, b in zip(writing.packets, writing.packets[1:], strict=False)}
        assert steps == {9000}, "10 fps at 90 kHz, no picture missing"


async def test_a_silent_camera_is_reported_after_the_read_timeout_and_read_again_when_it_answers() -> None:
    read_timeout = 2.0
    async with SimulatorHandle.start(_config()) as sim:
        port = int(sim.rtsp_url("cam1").split(":")[2].split("/")[0])
        proxy = BlackHoleProxy(port)
        front = await proxy.start()
        counting = Counting()
        worker = NativeStreamWorker("cam1", "main", lambda: f"rtsp://127.0.0.1:{front}/cam1/main",
                                    WorkerOptions(reader="native", open_timeout_s=5, read_timeout_s=read_timeout,
                                                  backoff_initial_s=0.5, backoff_max_s=0.5))
        worker.add(counting)
        worker.start()
        try:
            await wait_for(lambda: counting.packets > 5, limit=20)
            proxy.cut()
            cut = time.monotonic()
            await wait_for(lambda: worker.health.state == StreamState.OFFLINE, limit=4 * read_timeout)
            assert time.monotonic() - cut < 1.7 * read_timeout
            proxy.open = True  # new connections pass again (the old one stays a black hole)
            before = counting.packets
            await wait_for(lambda: counting.packets > before + 5 and worker.health.state == StreamState.ONLINE,
                           limit=20)
            assert len(counting.opened) == 2 and worker.health.reconnects >= 1
        finally:
            await asyncio.to_thread(worker.stop_blocking, 5)
            await proxy.close()


async def test_refused_credentials_and_a_missing_path_say_why() -> None:
    async with SimulatorHandle.start(_config(auth=AuthMode.DIGEST)) as sim:
        wrong = with_credentials(sim.rtsp_url("cam1"), "admin", "wrong")
        missing = sim.rtsp_url("cam1", with_credentials=True).replace("/cam1/main", "/nocam/main")
        workers = [NativeStreamWorker(f"c{i}", "main", lambda u=url: u,  # type: ignore[misc]
                                      WorkerOptions(reader="native", backoff_initial_s=30, backoff_max_s=30))
                   for i, url in enumerate((wrong, missing))]
        for worker in workers:
            worker.start()
        try:
            await wait_for(lambda: all(w.health.state != StreamState.CONNECTING for w in workers), limit=15)
            assert workers[0].health.state == StreamState.UNAUTHORISED
            assert "401" in (workers[1].health.reason or "") or "404" in (workers[1].health.reason or "")
            assert "wrong" not in (workers[0].health.reason or "")
        finally:
            for worker in workers:
                await asyncio.to_thread(worker.stop_blocking, 5)


def test_the_native_reader_is_chosen_only_where_it_can_serve() -> None:
    native = WorkerOptions(reader="native")
    assert isinstance(make_stream_worker("c", "main", lambda: "rtsp://cam/x", native), NativeStreamWorker)
    for url, options in (("rtsp://cam/x", WorkerOptions()), ("rtsps://cam/x", native),
                         ("rtsp://cam/x", WorkerOptions(reader="native", transport="udp"))):
        worker = make_stream_worker("c", "main", lambda u=url: u, options)  # type: ignore[misc]
        assert type(worker) is StreamWorker


async def test_many_cameras_share_one_reader_thread() -> None:
    cams = [CameraConfig(name=f"cam{i}", auth=AuthMode.NONE, sub=None,
                         main=StreamConfig(width=320, height=240, fps=10, bitrate_kbps=300)) for i in range(8)]
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cams)) as sim:
        counts = [Counting() for _ in cams]
        workers = []
        for cam, counting in zip(cams, counts, strict=True):
            url = sim.rtsp_url(cam.name)
            worker = NativeStreamWorker(cam.name, "main", lambda u=url: u, WorkerOptions(reader="native"))  # type: ignore[misc]
            worker.add(counting)
            worker.start()
            workers.append(worker)
        try:
            await wait_for(lambda: all(c.packets >= 20 for c in counts), limit=30)
            assert reactor().sessions == len(cams)
            import threading

            readers = [t for t in threading.enumerate() if t.name == "ingest-reactor"]
            assert len(readers) == 1
        finally:
            await asyncio.gather(*(asyncio.to_thread(w.stop_blocking, 5) for w in workers))
        await wait_for(lambda: reactor().sessions == 0, limit=5)


async def test_keep_alives_are_answered_and_their_answers_skipped_without_a_break(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from vms_server.ingest import native_worker

    monkeypatch.setattr(native_worker, "KEEPALIVE_MIN_S", 0.3)
    monkeypatch.setattr(native_worker, "KEEPALIVE_MAX_S", 0.3)
    async with SimulatorHandle.start(_config(auth=AuthMode.DIGEST)) as sim:
        counting = Counting()
        url = sim.rtsp_url("cam1", with_credentials=True)
        worker = NativeStreamWorker("cam1", "main", lambda: url, WorkerOptions(reader="native"))
        worker.add(counting)
        worker.start()
        try:
            await wait_for(lambda: getattr(worker, "connection", None) is not None
                           and worker.connection.reader.answers >= 4, limit=20)
            assert worker.health.reconnects == 0 and worker.health.state == StreamState.ONLINE
            before = counting.packets
            await wait_for(lambda: counting.packets > before + 5, limit=10)
        finally:
            await asyncio.to_thread(worker.stop_blocking, 5)
