"""Fixtures for recording tests: a small simulated camera and an API over a server that records it."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from sqlalchemy import select

from tests.conftest import make_settings, seed
from tests.server.helpers import ApiClient
from vms_camsim.config import AuthMode, CameraConfig, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server.db.engine import create_engine, session_factory
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket
from vms_server.recording.models import RecordingSegment
from vms_server.recording.recovery import Report, reconcile
from vms_server.recording.storage import VolumeSet
from vms_server.settings import Settings

SMALL = StreamConfig(width=320, height=240, fps=10, bitrate_kbps=300, gop_seconds=1.0)
SMALL_SUB = StreamConfig(width=160, height=120, fps=5, bitrate_kbps=100, gop_seconds=1.0)


def camera(name: str = "cam1", **kwargs: Any) -> CameraConfig:
    base: dict[str, Any] = {"name": name, "main": SMALL, "sub": SMALL_SUB, "loop_seconds": 4,
                            "auth": AuthMode.NONE}
    return CameraConfig(**{**base, **kwargs})


@pytest.fixture
def stream(tmp_path: Path) -> Iterator[tuple[StreamInfo, list[MediaPacket]]]:
    """A tiny encoded clip as packets (`test_durability`'s fixture): a recorder fed by hand."""
    from tests.server.recording.test_durability import encode_segment, packets_of

    source = tmp_path / "source.mp4"
    encode_segment(source)
    container, info, packets = packets_of(source)
    try:
        yield info, packets
    finally:
        container.close()


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[camera()])) as handle:
        yield handle


def recording_settings(tmp_path: Path, db_url: str, **recording: Any) -> Settings:
    options = {"segment_seconds": 2.0, "open_timeout_s": 5, "read_timeout_s": 3, "backoff_initial_s": 0.5,
               "backoff_max_s": 2, "cleanup_interval_s": 1.0, **recording}
    return make_settings(tmp_path / "data", db_url, recording=options)


@pytest.fixture
def rec_settings(tmp_path: Path, db_url: str) -> Settings:
    return recording_settings(tmp_path, db_url)


@pytest.fixture
async def rec_api(rec_settings: Settings, aiohttp_client: Any) -> AsyncIterator[ApiClient]:
    """A recording server on each database back end (for the tests whose SQL matters)."""
    from vms_server.app import create_app

    seeded = await seed(rec_settings)
    client = await aiohttp_client(create_app(rec_settings))
    yield ApiClient(client, seeded)


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: the media-heavy tests exercise the same SQL as the ones above, twice would only cost time."""
    target = tmp_path / "vms-lite.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
async def lite_api(tmp_path: Path, sqlite_url: str, aiohttp_client: Any) -> AsyncIterator[ApiClient]:
    from vms_server.app import create_app

    settings = recording_settings(tmp_path, sqlite_url)
    seeded = await seed(settings)
    client = await aiohttp_client(create_app(settings))
    yield ApiClient(client, seeded)


async def add_camera(api: ApiClient, url: str, name: str = "cam1", sub_url: str | None = None,
                     **extra: Any) -> str:
    streams = [{"role": "main", "rtsp_url": url}]
    if sub_url:
        streams.append({"role": "sub", "rtsp_url": sub_url})
    body = await api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201,
                        json={"name": name, "site_id": str(api.seeded.site_id), "streams": streams, **extra})
    return str(body["id"])


async def wait_for(check: Callable[[], Any], limit: float = 20.0, interval: float = 0.2) -> Any:
    """Poll an async or sync predicate until it returns something truthy."""
    deadline = time.monotonic() + limit
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)


def frames_in(path: Path) -> int:
    """Frames a file really decodes to."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


@contextlib.contextmanager
def tmpfs(mount_point: Path, size: str) -> Iterator[Path]:
    """A real file system of `size` (tmpfs) at `mount_point`, to fill up, remount read-only or unmount under the
    server. Needs root, as the test command does."""
    mount_point.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                          check=False, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (run the tests as root): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, capture_output=True)


# A recorder in a process of its own, to be killed or frozen: argv = url, volume, camera id, segment seconds and
# sync interval (0: the OS decides). It prints the start of its first segment once recording.
RECORDER_CHILD = """
import sys, time
from pathlib import Path
from vms_server.ingest.worker import StreamWorker, WorkerOptions
from vms_server.recording.durability import Durability
from vms_server.recording.recorder import Policy, Recorder
url, volume, camera_id, segment_s, interval = sys.argv[1], Path(sys.argv[2]), sys.argv[3], *map(float, sys.argv[4:6])
durability = Durability(interval)
durability.start()
rec = Recorder(camera_id, "main", lambda: volume, segment_s, lambda r: None, policy=Policy(), durability=durability)
worker = StreamWorker(camera_id, "main", lambda: url, WorkerOptions())
worker.add(rec)
worker.start()
while rec.current() is None:
    time.sleep(0.05)
print(rec.current()[0], flush=True)
time.sleep(600)
"""


async def reconcile_rows(db_url: str, volumes: VolumeSet) -> tuple[Report, list[RecordingSegment]]:
    """Start-up recovery of `volumes` into the database at `db_url`, and the index rows it leaves (by start)."""
    engine = create_engine(db_url)
    try:
        report = await reconcile(session_factory(engine), volumes)
        async with session_factory(engine)() as session:
            rows = list((await session.scalars(select(RecordingSegment).order_by(RecordingSegment.start_at))).all())
    finally:
        await engine.dispose()
    return report, rows
