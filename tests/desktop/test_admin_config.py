"""Administration > Configuration through the real widgets against a real server: set a key at a site, see the
effective value at a camera and the level it came from, change it again, read the version's diff, roll back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from tests.desktop.admin_helpers import LIMIT_S, running_desk
from tests.desktop.conftest import Desk, wait_until
from vms_desktop.admin.models.admin_api import AdminApi
from vms_desktop.admin.widgets.admin_window import AdminWindow
from vms_desktop.admin.widgets.config_page import ConfigPage

pytestmark = pytest.mark.slow
KEY = "video.normalise_width"


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with running_desk(settings, aiohttp_client, ["cam1"]) as desk:
        yield desk


async def effective_at_camera(desk: Desk) -> dict[str, Any]:
    params = {"key": KEY, "camera_id": desk.cameras["cam1"]}
    return dict((await desk.api.ok("GET", "/api/v1/config/effective", params=params))["items"][0])


async def test_set_at_site_read_at_camera_diff_and_roll_back(qtbot: QtBot, desk: Desk) -> None:
    window = AdminWindow(AdminApi(desk.client))
    qtbot.addWidget(window)
    page = window.show_page("Configuration")
    assert isinstance(page, ConfigPage)
    await page.refresh()
    await page.runner.drain()
    assert page.key.findText(KEY) >= 0
    site = str(desk.api.seeded.site_id)
    page.choose(KEY, "site", site)
    page.value.setText("800")
    page.comment.setText("wider for the car park")
    page.set_button.click()
    await wait_until(lambda: page.runner.idle and "saved" in page.message.text(), LIMIT_S, "version saved")
    first = int(page.versions.rows[0]["version"])
    assert (await effective_at_camera(desk))["value"] == 800
    # At the camera: the value and the level it came from.
    page.choose(KEY, "camera", desk.cameras["cam1"])
    page.show_button.click()
    await wait_until(lambda: "from the site level" in page.effective.text(), LIMIT_S, "effective at the camera")
    assert page.effective.text().startswith("800")
    # A bad value is refused by the server's schema, shown in the message line.
    page.choose(KEY, "site", site)
    page.value.setText('"wide"')
    page.set_button.click()
    await wait_until(lambda: page.runner.idle and page.message.is_error, LIMIT_S, "refused")
    assert page.message.text().startswith("Refused:")
    page.value.setText("1024")
    page.comment.setText("")
    page.set_button.click()
    await wait_until(lambda: page.runner.idle and not page.message.is_error and "saved" in page.message.text(),
                     LIMIT_S, "second version")
    assert (await effective_at_camera(desk))["value"] == 1024
    # The first version's diff names the site and the change; rolling back to it brings 800 back.
    assert page.select_version(first)
    assert f"site HQ: {KEY}  null -> 800" in page.diff.toPlainText()
    page.restore_button.click()
    await wait_until(lambda: page.runner.idle and "rolled back" in page.message.text(), LIMIT_S, "restored")
    assert (await effective_at_camera(desk))["value"] == 800
    versions = (await desk.api.ok("GET", "/api/v1/config/versions"))["items"]
    assert versions[0]["restored_from"] == first and versions[0]["actor"] == "admin1"
    assert page.versions.rows[0]["restored_from"] == first
    window.hide()
    await window.drain()
