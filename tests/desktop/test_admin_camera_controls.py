"""Administration > Camera controls as a supervisor, against a real server and the simulator's ONVIF imaging
and event services: the event topics the camera raises are listed, brightness and the IR cut filter applied
through the screen are what the camera then reports, holding a focus button moves the focus and releasing
it stops it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from tests.desktop.admin_helpers import LIMIT_S
from tests.desktop.conftest import Desk, sim_config, start_desk, wait_until
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_desktop.admin.models.admin_api import AdminApi
from vms_desktop.admin.widgets.admin_window import AdminWindow
from vms_desktop.admin.widgets.camera_controls_page import CameraControlsPage


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with SimulatorHandle.start(sim_config(["cam1", "cam2"])) as sim:
        desk = await start_desk(settings, aiohttp_client, sim, role=Role.SUPERVISOR)
        try:
            yield desk
        finally:
            await desk.client.close()


@pytest.mark.slow
async def test_supervisor_adjusts_the_picture_and_sees_the_topics(qtbot: QtBot, desk: Desk) -> None:
    window = AdminWindow(AdminApi(desk.client))
    qtbot.addWidget(window)
    page = window.show_page("Camera controls")
    assert isinstance(page, CameraControlsPage)
    await page.refresh()
    await page.runner.drain()
    camera = desk.cameras["cam2"]
    page.choose(camera)
    await wait_until(lambda: page.runner.idle and page.apply_button.isEnabled() and page.topic_list.count() > 0,
                     LIMIT_S, "imaging and topics loaded")
    assert not page.message.is_error, page.message.text()
    lines = [page.topic_list.item(i).text() for i in range(page.topic_list.count())]
    assert any(line.startswith("tns1:VideoSource/MotionAlarm - state") for line in lines), lines
    assert page.ir_cut.currentText() == "AUTO" and page.brightness.value() == 50

    page.brightness.setValue(72.5)
    page.ir_cut.setCurrentText("OFF")
    page.apply_button.click()
    await wait_until(lambda: page.runner.idle and "applied" in page.message.text(), LIMIT_S, "applied")
    reported = await desk.api.ok("GET", f"/api/v1/cameras/{camera}/imaging")
    assert reported["brightness"] == 72.5 and reported["ir_cut_filter"] == "OFF"

    start = reported["focus_position"]
    page.far_button.pressed.emit()
    await asyncio.sleep(0.5)
    page.far_button.released.emit()
    await wait_until(lambda: page.runner.idle, LIMIT_S, "focus stopped")
    after = await desk.api.ok("GET", f"/api/v1/cameras/{camera}/imaging")
    assert after["focus_moving"] is False and after["focus_position"] > start
    assert page.imaging_state is not None and page.imaging_state.focus_position == after["focus_position"]
