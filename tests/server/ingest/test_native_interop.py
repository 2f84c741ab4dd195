"""The native RTSP reader against an RTSP server it was not written with: gst-rtsp-server (GStreamer's SDP,
Content-Base, session timeout, STAP-A/FU-A and H.265 payloaders). Both readers record from it; every picture the
native one hands over is recorded and decodes, none is missing, and it describes the stream as FFmpeg does."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from tests.server.ingest.test_native_reader import Writing
from tests.server.recording.conftest import wait_for
from vms_server.ingest.health import StreamState
from vms_server.ingest.native_worker import NativeStreamWorker, make_stream_worker
from vms_server.ingest.worker import WorkerOptions

SERVER = Path(__file__).with_name("gst_rtsp_server.py")


@pytest.fixture(params=["h264", "h265"])
def gst_url(request: pytest.FixtureRequest) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(["/usr/bin/python3", str(SERVER), str(port), request.param], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.stderr
        yield f"rtsp://127.0.0.1:{port}/test"
    finally:
        proc.terminate()
        proc.wait(10)


async def _record(url: str, reader: str, directory: Path) -> tuple[Writing, object]:
    directory.mkdir()
    writing = Writing(directory)
    worker = make_stream_worker("cam1", "main", lambda: url, WorkerOptions(reader=reader))
    worker.add(writing)
    worker.start()
    try:
        await wait_for(lambda: len(writing.packets) >= 30, limit=30)
        assert worker.health.state == StreamState.ONLINE
    finally:
        await asyncio.to_thread(worker.stop_blocking, 5)
    return writing, worker


@pytest.mark.timeout(120)
async def test_the_native_reader_records_what_gst_rtsp_server_sends(gst_url: str, tmp_path: Path) -> None:
    native, worker = await _record(gst_url, "native", tmp_path / "native")
    assert isinstance(worker, NativeStreamWorker)
    ffmpeg, _ = await _record(gst_url, "ffmpeg", tmp_path / "ffmpeg")
    assert native.info is not None and ffmpeg.info is not None
    seen = (native.info.codec, native.info.width, native.info.height, round(native.info.fps))
    assert seen == (ffmpeg.info.codec, ffmpeg.info.width, ffmpeg.info.height, round(ffmpeg.info.fps))
    assert seen[1:] == (640, 360, 10)
    result = native.writer.close()  # type: ignore[attr-defined]
    with av.open(str(tmp_path / "native" / result.path)) as played:
        assert sum(1 for _ in played.decode(video=0)) == len(native.packets) == result.frames
    steps = {b.pts - a.pts for a, b in zip(native.packets, native.packets[1:], strict=False)}
    assert steps == {9000}, "10 fps at 90 kHz, no picture missing"
    assert sum(p.keyframe for p in native.packets) >= 2  # one every 10 pictures (key-int-max)
