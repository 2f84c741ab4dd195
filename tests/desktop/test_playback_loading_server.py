"""Issue #26, defect 3 against the real server: its playback stream limit (`recording.max_playback_streams`,
here 1) refuses the second tile with 503. That tile says "Loading…" and retries instead of freezing on its
live picture with the live clock and REC dot, and gives up with "Playback failed" and a Retry button.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

import vms_desktop.playback.feed as feed_module
from tests.desktop.conftest import Desk, sim_config, start_desk, wait_until
from tests.desktop.test_playback import _recorded
from tests.desktop.test_wall import drop_on, open_window
from vms_camsim.handle import SimulatorHandle

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Any:
    from tests.conftest import make_settings

    return make_settings(tmp_path / "data", db_url, recording={
        "segment_seconds": 1.0, "open_timeout_s": 5, "read_timeout_s": 3, "backoff_initial_s": 0.5,
        "backoff_max_s": 2, "status_interval_s": 1, "max_playback_streams": 1},
        licensing={"unlicensed_camera_limit": 64})


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with SimulatorHandle.start(sim_config(["cam1", "cam2"])) as sim:
        desk = await start_desk(settings, aiohttp_client, sim)
        yield desk
        await desk.client.close()


async def test_tile_refused_by_the_stream_limit_loads_retries_then_offers_retry(
        qtbot: QtBot, desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed_module, "PLAYBACK_TRIES", 3, raising=False)
    window = await open_window(qtbot, desk, tmp_path)
    wall = window.wall
    assert wall is not None
    drop_on(wall.tiles[(0, 0)], window.resource_model.mimeData([window.resource_model.index(0, 0)]))
    tiles = [wall.tiles[(0, 0)], wall.tiles[(0, 1)]]
    await wait_until(lambda: all(t.image is not None for t in tiles), 20, "live pictures")
    await wait_until(lambda: all(t.recording for t in tiles), 20, "REC dots")
    start, _ = await _recorded(desk, desk.cameras["cam1"], 3)
    await _recorded(desk, desk.cameras["cam2"], 3)
    bar = window.playback
    bar.seek(start + 1_000_000)
    for tile in tiles:  # at once: no live picture, no live clock, no REC, "Loading…"
        assert tile.image is None and tile.frame_time_us == 0 and tile.mode == "playback"
        assert not tile.shows_recording_dot()
        assert tile.status_text().startswith("Loading…")
    states: dict[int, list[tuple[str, str]]] = {0: [], 1: []}
    for index, tile in enumerate(tiles):
        wall.feeds[(tile.row, tile.col)].sig_status.connect(
            lambda state, message, i=index: states[i].append((state, message)))
    await wait_until(lambda: any(t.frames_shown > 0 for t in tiles), 20, "one tile plays")
    playing = 0 if tiles[0].frames_shown else 1
    refused = tiles[1 - playing]
    assert tiles[playing].frame_time_us >= start
    await wait_until(lambda: any(s == "loading" and "retrying" in m for s, m in states[1 - playing]), 10,
                     f"the refused tile retries ({states})")
    await wait_until(lambda: refused.state == "failed" or refused.frames_shown > 0, 20, f"{states}")
    if refused.state == "failed":  # the first stream still holds the only slot
        assert refused.status_text().startswith("Playback failed") and refused.retry_button.isVisible()
        assert refused.image is None and not refused.shows_recording_dot()
    bar.go_live()
    await wait_until(lambda: all(t.mode == "live" and t.frames_shown > 0 for t in tiles), 20, "live again")
    assert not refused.retry_button.isVisible() and refused.shows_recording_dot()
    await window.shutdown()
