"""Administration > Recording: the week grid's conversion to the server's schedule windows, and a camera's
policy changed through the screen and read back from a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from tests.desktop.admin_helpers import LIMIT_S, running_desk
from tests.desktop.conftest import Desk, wait_until
from vms_desktop.admin.models.admin_api import AdminApi
from vms_desktop.admin.models.week_grid import grid_from_windows, windows_from_grid
from vms_desktop.admin.widgets.admin_window import AdminWindow
from vms_desktop.admin.widgets.recording_page import RecordingPage

WEEKDAYS_8_TO_18 = {(d, h) for d in range(5) for h in range(8, 18)}


def test_week_grid_round_trip() -> None:
    weekdays = windows_from_grid(WEEKDAYS_8_TO_18)
    assert weekdays == [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"}]
    assert grid_from_windows(weekdays) == WEEKDAYS_8_TO_18
    # Saturday night past midnight into Sunday; a partly covered hour counts; the whole Sunday evening.
    night = grid_from_windows([{"days": [5], "start": "22:30", "end": "02:00"},
                               {"days": [6], "start": "18:00", "end": "24:00"}])
    assert night == {(5, 22), (5, 23), (6, 0), (6, 1)} | {(6, h) for h in range(18, 24)}
    assert windows_from_grid(night) == [{"days": [5], "start": "22:00", "end": "24:00"},
                                        {"days": [6], "start": "00:00", "end": "02:00"},
                                        {"days": [6], "start": "18:00", "end": "24:00"}]
    assert windows_from_grid(set()) == [] and grid_from_windows([]) == set()


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with running_desk(settings, aiohttp_client, ["cam1", "cam2"]) as desk:
        yield desk


@pytest.mark.slow
async def test_schedule_recording_through_the_screen(qtbot: QtBot, desk: Desk) -> None:
    window = AdminWindow(AdminApi(desk.client))
    qtbot.addWidget(window)
    page = window.show_page("Recording")
    assert isinstance(page, RecordingPage)
    await page.refresh()
    await page.runner.drain()
    camera = desk.cameras["cam2"]
    page.choose(camera)
    await wait_until(lambda: page.runner.idle and page.policy.get("camera_id") == camera, LIMIT_S, "policy loaded")
    before = await desk.api.ok("GET", f"/api/v1/cameras/{camera}/recording-policy")
    page.continuous_box.setChecked(False)
    page.motion_box.setChecked(True)
    page.pre.setValue(8)
    page.post.setValue(30)
    page.retention.setValue(14)
    page.grid.select_cells(WEEKDAYS_8_TO_18 | {(6, 3)})
    page.mark_button.click()
    page.grid.select_cells({(6, 3)})
    page.unmark_button.click()
    assert page.grid.cells == WEEKDAYS_8_TO_18
    page.save_button.click()
    await wait_until(lambda: page.runner.idle and "saved" in page.message.text(), LIMIT_S, "saved")
    policy = await desk.api.ok("GET", f"/api/v1/cameras/{camera}/recording-policy")
    assert policy["schedule"] == [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"}]
    assert (policy["continuous"], policy["motion"], policy["event"]) == (False, True, before["event"])
    assert (policy["pre_s"], policy["post_s"], policy["retention_days"]) == (8, 30, 14)
    assert policy["motion_sensitivity"] == before["motion_sensitivity"]  # not on the screen: kept
    # Another camera and back: the screen shows what the server has.
    page.choose(desk.cameras["cam1"])
    await wait_until(lambda: page.runner.idle and page.policy.get("camera_id") == desk.cameras["cam1"], LIMIT_S,
                     "cam1 loaded")
    assert page.grid.cells == set() and page.continuous_box.isChecked()
    page.choose(camera)
    await wait_until(lambda: page.runner.idle and page.policy.get("camera_id") == camera, LIMIT_S, "reloaded")
    assert page.grid.cells == WEEKDAYS_8_TO_18 and page.retention.value() == 14
    # A time zone the server refuses is shown, not lost.
    page.timezone.setText("Mars/Olympus")
    page.save_button.click()
    await wait_until(lambda: page.runner.idle and page.message.is_error, LIMIT_S, "refused")
    assert page.message.text().startswith("Refused:")
    window.hide()
    await window.drain()
