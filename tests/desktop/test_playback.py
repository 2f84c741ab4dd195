"""Playback from the timeline: recorded ranges, seek, pause, step, synchronised tiles, export to MP4."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import pytest
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import Desk, sim_config, start_desk, wait_until
from tests.desktop.test_wall import drop_on, open_window
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_desktop.playback.feed import PlaybackFeed
from vms_desktop.video.live import LiveFeed

pytestmark = pytest.mark.slow


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with SimulatorHandle.start(sim_config(["cam1", "cam2"])) as sim:
        desk = await start_desk(settings, aiohttp_client, sim)
        yield desk
        await desk.client.close()


def _us(value: str) -> int:
    return int(dt.datetime.fromisoformat(value).timestamp() * 1e6)


async def _recorded(desk: Desk, camera_id: str, seconds: float) -> tuple[int, int]:
    """Wait until `seconds` of continuous recording exist; returns that range."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 40
    while loop.time() < deadline:
        now = dt.datetime.now(dt.UTC)
        body = await desk.api.ok("GET", f"/api/v1/cameras/{camera_id}/recordings", Role.VIEWER, params={
            "start": (now - dt.timedelta(minutes=5)).isoformat(), "end": now.isoformat()})
        for item in body["ranges"]:
            start, end = _us(item["start"]), _us(item["end"])
            if end - start >= seconds * 1e6:
                return start, end
        await asyncio.sleep(0.5)
    raise AssertionError("nothing recorded in time")


def _decode(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


async def test_timeline_seek_pause_step_sync_and_export(qtbot: QtBot, desk: Desk, tmp_path: Path) -> None:
    window = await open_window(qtbot, desk, tmp_path)
    wall = window.wall
    assert wall is not None
    site = window.resource_model.index(0, 0)
    drop_on(wall.tiles[(0, 0)], window.resource_model.mimeData([site]))
    cam1, cam2 = desk.cameras["cam1"], desk.cameras["cam2"]
    wall.select(0, 0)
    bar = window.playback
    start, _ = await _recorded(desk, cam1, 4)
    await _recorded(desk, cam2, 4)
    bar.timeline.centre_on(start)
    await bar.load_timeline()
    assert any(a <= start + 1_000_000 <= b for a, b in bar.timeline.ranges)
    # Seek: every tile of the layout plays the recording from there, on one clock.
    bar.seek(start + 1_000_000)
    tiles = [wall.tiles[(0, 0)], wall.tiles[(0, 1)]]
    assert all(isinstance(wall.feeds[(t.row, t.col)], PlaybackFeed) for t in tiles)
    await wait_until(lambda: all(t.frames_shown > 0 and t.frame_time_us >= start for t in tiles), 20,
                     "recorded frames in both tiles")
    await wait_until(lambda: all(abs(t.frame_time_us - bar.clock.position_us()) < 1_500_000 for t in tiles), 10,
                     "tiles follow the clock")
    # Pause holds the picture; a step moves it one frame on.
    bar.toggle_play()
    assert not bar.clock.playing
    await asyncio.sleep(0.3)
    held = tiles[0].frame_time_us
    await asyncio.sleep(0.4)
    assert tiles[0].frame_time_us == held
    bar.step()
    await wait_until(lambda: tiles[0].frame_time_us > held, 5, "one frame further")
    assert tiles[0].frame_time_us - held <= 300_000
    bar.toggle_play()
    # Export a 3 s range to MP4, with progress.
    bar.timeline.selection = (start + 500_000, start + 3_500_000)
    task = bar.start_export(tmp_path / "out" / "clip.mp4")
    assert task is not None
    await asyncio.wait_for(task, 60)
    assert bar.progress.value() == 100 and "Exported to" in bar.export_label.text()
    assert _decode(tmp_path / "out" / "clip.mp4") >= 25
    # Back to live.
    bar.go_live()
    assert all(isinstance(wall.feeds[(t.row, t.col)], LiveFeed) for t in tiles)
    await window.shutdown()
