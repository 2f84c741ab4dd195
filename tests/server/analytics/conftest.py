"""Fixtures of the analytics tests: a throw-away redis-server, jobs built from rendered simulator scenes."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from vms_server.analytics.jobs import JobMetadata, SourceQuality, VideoJob
from vms_server.analytics.types import Frame, Priority


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: object) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (scripts/apt-packages.txt lists it)")
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


QUALITY = SourceQuality(width=640, height=480, bitrate_kbps=1500, fps=15, codec="h264")


def make_job(frames: list[Frame], models: list[str], priority: Priority = Priority.STANDARD,
             camera_id: uuid.UUID | None = None, sequence: int = 0) -> VideoJob:
    duration = (frames[-1].ts - frames[0].ts) if len(frames) > 1 else 0.0
    meta = JobMetadata(resolution="640x480", bitrate_kbps=1500, duration_s=duration, frame_count=len(frames),
                       enabled_models=models, priority=priority, source_quality=QUALITY,
                       frame_times=[f.ts for f in frames])
    start = frames[0].ts if frames else 0.0
    return VideoJob(uuid.uuid4(), uuid.uuid4(), camera_id or uuid.uuid4(), sequence,
                    dt.datetime.fromtimestamp(start, dt.UTC), meta, frames)
