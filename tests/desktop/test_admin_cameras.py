"""Administration > Cameras through the real widgets against a real server with simulator cameras: add by RTSP
address and by ONVIF address, edit, disable, delete, find on the network and add, CSV import with its report,
and the server's refusals shown in the dialog."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from tests.desktop.admin_helpers import LIMIT_S, press_ok, running_desk
from tests.desktop.conftest import Desk, wait_until
from vms_desktop.admin.dialogs.camera_dialog import BY_ONVIF, CameraDialog
from vms_desktop.admin.dialogs.diagnostics_dialog import DiagnosticsDialog
from vms_desktop.admin.dialogs.discovery_dialog import DiscoveryDialog
from vms_desktop.admin.models.admin_api import AdminApi
from vms_desktop.admin.widgets.admin_window import AdminWindow
from vms_desktop.admin.widgets.cameras_page import CamerasPage

pytestmark = pytest.mark.slow


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with running_desk(settings, aiohttp_client, ["cam1", "cam2"]) as desk:
        yield desk


async def cameras_page(qtbot: QtBot, desk: Desk) -> tuple[AdminWindow, CamerasPage]:
    window = AdminWindow(AdminApi(desk.client))
    qtbot.addWidget(window)
    page = window.show_page("Cameras")
    assert isinstance(page, CamerasPage)
    await page.refresh()
    await page.runner.drain()  # the refresh the page started itself on being shown
    return window, page


async def server_cameras(desk: Desk) -> dict[str, dict[str, Any]]:
    page = await desk.api.ok("GET", "/api/v1/cameras")
    return {str(c["name"]): c for c in page["items"]}




async def test_add_edit_disable_delete(qtbot: QtBot, desk: Desk) -> None:
    window, page = await cameras_page(qtbot, desk)
    assert sorted(c.name for c in page.model.rows) == ["cam1", "cam2"]
    # Delete cam2 (confirmed), then add it back from its ONVIF address: the server reads its streams.
    page.confirm = lambda text: True  # type: ignore[method-assign]
    assert page.select(desk.cameras["cam2"])
    page.delete_button.click()
    await wait_until(lambda: [c.name for c in page.model.rows] == ["cam1"], LIMIT_S, "cam2 gone from the table")
    assert sorted(await server_cameras(desk)) == ["cam1"]
    page.add_button.click()
    dialog = page.dialog
    assert isinstance(dialog, CameraDialog)
    dialog.method.setCurrentText(BY_ONVIF)
    assert not dialog.url.isEnabled() and dialog.onvif_url.isEnabled()
    dialog.name.setText("Gate")
    dialog.onvif_url.setText(desk.sim.onvif_url("cam2"))
    dialog.username.setText("admin")
    dialog.password.setText("admin")
    dialog.tags.setText("gate, outdoor")
    dialog.message.show_text("")
    dialog.test_button.click()
    await wait_until(lambda: dialog.message.text().startswith("Connected:") or dialog.message.is_error, LIMIT_S,
                     "connection tested")
    assert "profile(s) (320x192, 160x96)" in dialog.message.text(), dialog.message.text()
    await press_ok(dialog)
    assert dialog.saved is not None, dialog.message.text()
    gate = (await server_cameras(desk))["Gate"]
    assert gate["onvif_url"] == desk.sim.onvif_url("cam2") and gate["tags"] == ["gate", "outdoor"]
    assert {s["role"] for s in gate["streams"]} == {"main", "sub"} and gate["has_secret"]
    await wait_until(lambda: page.model.find(lambda c: c.name == "Gate") >= 0, LIMIT_S, "Gate listed")
    # By RTSP address; a wrong address is refused by the server and the dialog says why, staying open.
    page.add_button.click()
    dialog = page.dialog
    assert isinstance(dialog, CameraDialog)
    dialog.name.setText("Yard")
    dialog.url.setText("ftp://nowhere/stream")
    await press_ok(dialog)
    assert dialog.saved is None and dialog.message.text().startswith("Refused:") and dialog.isVisible()
    dialog.url.setText(desk.sim.rtsp_url("cam1", "sub"))
    for user, expected in (("", "The camera did not answer as expected:"), ("admin", "Connected:")):
        dialog.username.setText(user)
        dialog.password.setText(user)
        dialog.message.show_text("")
        dialog.test_button.click()
        await wait_until(lambda: dialog.message.text().startswith(("Connected:", "The camera")), LIMIT_S,
                         "stream tested")
        assert dialog.message.text().startswith(expected), dialog.message.text()
    assert "refused the credentials" not in dialog.message.text() and "160x96 at 10 fps" in dialog.message.text()
    await press_ok(dialog)
    assert dialog.saved is not None and not dialog.isVisible()
    yard = (await server_cameras(desk))["Yard"]
    assert [s["rtsp_url"] for s in yard["streams"]] == [desk.sim.rtsp_url("cam1", "sub")]
    # Edit: rename and retag; the password field is empty (never shown back) and not sent.
    await wait_until(lambda: page.select(yard["id"]), LIMIT_S, "Yard listed")
    page.edit_button.click()
    dialog = page.dialog
    assert isinstance(dialog, CameraDialog) and dialog.camera is not None and dialog.password.text() == ""
    dialog.name.setText("Yard east")
    dialog.tags.setText("yard")
    assert dialog.changes() == {"name": "Yard east", "tags": ["yard"]}
    await press_ok(dialog)
    assert (await server_cameras(desk))["Yard east"]["tags"] == ["yard"]
    # Disable and enable again.
    await wait_until(lambda: page.select(yard["id"]) and page.selected().name == "Yard east",  # type: ignore[union-attr]
                     LIMIT_S, "renamed row")
    page.toggle_button.click()
    await wait_until(lambda: not page.runner.tasks and page.model.find(
        lambda c: c.id == yard["id"] and not c.enabled) >= 0, LIMIT_S, "disabled in the table")
    assert (await server_cameras(desk))["Yard east"]["enabled"] is False
    assert "disabled" in page.message.text()
    window.hide()
    await window.drain()


async def test_find_on_network_and_bulk_add(qtbot: QtBot, desk: Desk) -> None:
    await desk.api.ok("DELETE", f"/api/v1/cameras/{desk.cameras['cam2']}", status=204)
    window, page = await cameras_page(qtbot, desk)
    page.find_button.click()
    dialog = page.dialog
    assert isinstance(dialog, DiscoveryDialog)
    dialog.range.setText("127.0.0.1")
    dialog.onvif_ports.setText(f"{desk.sim.onvif_port('cam1')}, {desk.sim.onvif_port('cam2')}")
    dialog.username.setText("admin")
    dialog.password.setText("admin")
    dialog.scan_button.click()
    await wait_until(lambda: dialog.job is not None and dialog.job.finished and dialog.scan_button.isEnabled(),
                     60, "scan finished")
    assert dialog.job is not None and dialog.job.state == "done", dialog.message.text()
    found = {d.onvif_url: d for d in dialog.model.rows}
    assert found[desk.sim.onvif_url("cam1")].already_added and not found[desk.sim.onvif_url("cam2")].already_added
    assert dialog.tick_new() == 1
    dialog.add_button.click()
    await wait_until(lambda: dialog.report is not None, 60, "bulk add report")
    assert dialog.report is not None and len(dialog.report.added) == 1 and not dialog.report.refused
    assert "Added 1 camera" in dialog.message.text()
    cameras = await server_cameras(desk)
    assert len(cameras) == 2 and any(c["onvif_url"] == desk.sim.onvif_url("cam2") for c in cameras.values())
    await wait_until(lambda: len(page.model.rows) == 2, LIMIT_S, "the page reloaded")
    assert all(d.already_added for d in dialog.model.rows if d.onvif_url)
    window.hide()
    await window.drain()


async def test_csv_import_reports_each_row(qtbot: QtBot, desk: Desk) -> None:
    window, page = await cameras_page(qtbot, desk)
    page.csv_button.click()
    dialog = page.dialog
    assert dialog is not None and hasattr(dialog, "run_import")
    dialog.text.setPlainText("name,url,tags\n"
                             f"Dock,{desk.sim.rtsp_url('cam1', 'sub')},dock;north\n"
                             "Broken,gopher://x/y,\n")
    dialog.import_button.click()
    await wait_until(lambda: dialog.report is not None, LIMIT_S, "import report")
    report = dialog.report
    assert [c.name for c in report.added] == ["Dock"] and report.added[0].tags == ("dock", "north")
    assert [r.item for r in report.refused] == ["row 3"]
    assert "Refused row 3" in dialog.message.text() and dialog.message.is_error
    assert "Dock" in await server_cameras(desk)
    await wait_until(lambda: page.model.find(lambda c: c.name == "Dock") >= 0, LIMIT_S, "Dock listed")
    window.hide()
    await window.drain()


async def test_diagnostics_report_and_problems(qtbot: QtBot, desk: Desk) -> None:
    """The technician's button: the server's checks of the selected camera, the report in the dialog and on
    the clipboard; a camera with a wrong stored password gets its problem named in red."""
    _window, page = await cameras_page(qtbot, desk)
    page.diagnose_button.click()  # nothing selected: said, no dialog
    assert page.message.is_error and "Select a camera first" in page.message.text()
    assert page.select(desk.cameras["cam1"])
    page.diagnose_button.click()
    dialog = page.dialog
    assert isinstance(dialog, DiagnosticsDialog)
    assert not dialog.run_button.isEnabled() and not dialog.copy_button.isEnabled()  # running
    await wait_until(lambda: dialog.diagnosis is not None or dialog.message.is_error, 3 * LIMIT_S,
                     "the diagnostics answered")
    diagnosis = dialog.diagnosis
    assert diagnosis is not None, dialog.message.text()
    report = dialog.report.toPlainText()
    assert report.startswith("Camera diagnostics: cam1") and "DESCRIBE 200" in report and "RTP over TCP" in report
    assert not diagnosis.problems and not dialog.message.is_error, diagnosis.problems
    assert dialog.message.text() == "No problem found with cam1."
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == report
    assert "RTP over UDP" not in report
    dialog.udp.setChecked(True)  # again, with the network's loss over UDP
    dialog.run_button.click()
    await wait_until(lambda: dialog.diagnosis is not diagnosis or dialog.message.is_error, 3 * LIMIT_S,
                     "the diagnostics over UDP answered")
    assert "RTP over UDP" in dialog.report.toPlainText() and not dialog.message.is_error, dialog.message.text()
    dialog.close()

    wrong_secret = {"method": "digest", "username": "admin", "secret": "wrong"}
    await desk.api.ok("PATCH", f"/api/v1/cameras/{desk.cameras['cam2']}", json={"credentials": wrong_secret})
    await page.refresh()
    cam2 = page.model.rows[page.model.find(lambda c: c.name == "cam2")]
    wrong = DiagnosticsDialog(page.api, cam2, sample_s=1.0)
    qtbot.addWidget(wrong)
    assert await wrong.run() is not None
    assert wrong.message.is_error
    assert "problem(s) with cam2" in wrong.message.text()
    assert "refused the stored credentials" in wrong.message.text()
