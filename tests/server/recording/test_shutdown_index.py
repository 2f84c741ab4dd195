"""A server stop loses no index rows: the segment being written when the stop comes is finished by its
recorder (ingest stops first) and indexed before the database closes (the indexer is told to finish, not
cancelled). Every recording file on disk has its row afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from tests.conftest import seed
from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, recording_settings, wait_for
from vms_camsim.handle import SimulatorHandle
from vms_server.app import create_app
from vms_server.db.engine import create_engine, session_factory
from vms_server.recording.keys import RECORDER
from vms_server.recording.models import RecordingSegment

pytestmark = pytest.mark.slow


async def _rows(settings: Any) -> list[RecordingSegment]:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return list((await session.scalars(select(RecordingSegment))).all())
    finally:
        await engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_segments_written_up_to_the_stop_are_indexed(tmp_path: Path, db_url: str,
                                                            sim: SimulatorHandle) -> None:
    settings = recording_settings(tmp_path, db_url, segment_seconds=30.0)  # the stop cuts the open segment
    seeded = await seed(settings)
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1"))
    await client.start_server()
    try:
        api = ApiClient(client, seeded)
        await add_camera(api, sim.rtsp_url("cam1", "main"))
        recorder = client.app[RECORDER]

        def open_segment_frames() -> int | None:
            writers = [r.writer for r in recorder.recorders.values() if r.writer is not None]
            return writers[0].frames if writers and writers[0].frames > 20 else None

        await wait_for(open_segment_frames, limit=30)  # a few seconds into a 30 s segment
    finally:
        await client.close()  # the server stops with a segment open
    files = sorted(p.relative_to(settings.data_dir / "recordings") for p in _written(settings))
    rows = await _rows(settings)
    assert files, "nothing was recorded"
    assert sorted(Path(r.path) for r in rows) == files
    assert all(r.frames > 0 and r.bytes > 0 for r in rows)


def _written(settings: Any) -> list[Path]:
    return [p for p in (settings.data_dir / "recordings").rglob("*.mp4") if p.stat().st_size > 0]
