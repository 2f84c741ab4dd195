"""Administration > Analytics against a real server and simulator cameras: a zone drawn by mouse clicks on the
camera's picture reaches the server's intrusion config in normalised coordinates and a line's direction flips
(docs/screenshots/zone_editor.png is taken under Xvfb by test_detection_screenshots.py); a region and the
motion mask are dragged out; the server's refusals (a stream too small, a setting out of the schema's bounds)
are shown in its words; a supervisor gets no Analytics tab and the server refuses the change anyway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from tests.desktop.admin_helpers import LIMIT_S, running_desk
from tests.desktop.conftest import Desk, wait_until
from vms_common.auth.roles import Role
from vms_desktop.admin.models.admin_api import AdminApi
from vms_desktop.admin.models.geometry import LINE, POLYGON, RECT, Shape, config_geometry, geometry_fields
from vms_desktop.admin.widgets.admin_window import AdminWindow, pages_for
from vms_desktop.admin.widgets.analytics_page import AnalyticsPage
from vms_desktop.admin.widgets.shape_editor import ShapeEditor
from vms_desktop.client.api import ServerError, Tokens, VmsClient

ZONE = [(0.2, 0.3), (0.7, 0.25), (0.8, 0.8), (0.25, 0.75)]
LINE_AB = [(0.1, 0.9), (0.9, 0.9)]
TOLERANCE = 0.01  # a click lands on a whole pixel: within 1 % of the picture


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with running_desk(settings, aiohttp_client, ["cam1"]) as desk:
        yield desk


async def _page(qtbot: QtBot, desk: Desk, camera: str, model: str) -> AnalyticsPage:
    window = AdminWindow(AdminApi(desk.client))
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    page = window.show_page("Analytics")
    assert isinstance(page, AnalyticsPage)
    await wait_until(lambda: page.runner.idle and page.camera_choice.count() > 0, LIMIT_S, "cameras listed")
    page.choose(camera, model)
    await wait_until(lambda: page.runner.idle and page.model_name() == model and page.camera_id() == camera,
                     LIMIT_S, "camera and model loaded")
    await page.runner.drain()
    return page


async def _streaming(desk: Desk, camera: str) -> None:
    """Wait until the server has a picture of the camera (its live stream is pulled on the first request)."""
    async def answered() -> bool:
        return bool((await desk.api.call("GET", f"/api/v1/cameras/{camera}/snapshot")).status == 200)

    deadline = asyncio.get_running_loop().time() + LIMIT_S
    while not await answered():
        assert asyncio.get_running_loop().time() < deadline, "the camera never gave a snapshot"
        await asyncio.sleep(0.2)


def _click(qtbot: QtBot, page: AnalyticsPage, point: tuple[float, float]) -> None:
    px = page.editor.to_px(point)
    qtbot.mouseClick(page.editor, Qt.MouseButton.LeftButton, pos=QPoint(round(px.x()), round(px.y())))


def test_geometry_fields_come_from_the_schema() -> None:
    schema = {"$defs": {"Zone": {"properties": {"name": {}, "points": {}}},
                        "LineRule": {"properties": {"a": {}, "b": {}, "inside": {}}}},
              "properties": {"zones": {"type": "array", "items": {"$ref": "#/$defs/Zone"}},
                             "doors": {"type": "array", "items": {"$ref": "#/$defs/LineRule"}},
                             "dwell_s": {"type": "number"}}}
    fields = geometry_fields(schema)
    assert fields == {"zones": POLYGON, "doors": LINE}
    line = Shape(LINE, [(0.1, 0.5), (0.9, 0.5)], {"inside": "left"})
    line.flip()
    out = config_geometry([Shape(POLYGON, [(0.1, 0.1), (0.5, 0.1), (0.3, 1.2)]), line,
                           Shape(RECT, [(0.5, 0.5), (0.6, 0.6)])], fields)
    assert out["zones"] == [{"name": "zone 1", "points": [[0.1, 0.1], [0.5, 0.1], [0.3, 1.0]]}]
    assert out["doors"][0]["inside"] == "right" and out["doors"][0]["a"] == [0.1, 0.5]


@pytest.mark.slow
async def test_a_zone_drawn_on_the_picture_reaches_the_intrusion_config(qtbot: QtBot, desk: Desk,
                                                                       tmp_path: Path) -> None:
    camera = desk.cameras["cam1"]
    await _streaming(desk, camera)
    page = await _page(qtbot, desk, camera, "intrusion")
    assert page.mode_buttons[POLYGON].isEnabled() and page.mode_buttons[LINE].isEnabled()
    page.set_mode(POLYGON)
    for point in ZONE:
        _click(qtbot, page, point)
    qtbot.keyClick(page.editor, Qt.Key.Key_Return)
    assert [s.kind for s in page.editor.shapes] == [POLYGON]
    page.mode_buttons[LINE].click()
    for point in LINE_AB:
        _click(qtbot, page, point)
    page.flip_button.click()  # the arrow turns to the right of a->b
    assert [s.kind for s in page.editor.shapes] == [POLYGON, LINE]
    page.form.fields["dwell_s"][2].setValue(2.5)  # type: ignore[attr-defined]
    page.enable_button.click()
    await wait_until(lambda: page.runner.idle and bool(page.message.text()) and page.message.text() != "Saving…",
                     LIMIT_S, "the server answered")
    assert not page.message.is_error, page.message.text()
    stored = (await desk.api.ok("GET", f"/api/v1/cameras/{camera}/analytics"))["items"]
    intrusion = next(i for i in stored if i["model"] == "intrusion")
    assert intrusion["enabled"] is True and intrusion["config"]["dwell_s"] == 2.5
    [zone] = intrusion["config"]["zones"]
    assert len(zone["points"]) == len(ZONE)
    for (x, y), (ex, ey) in zip(zone["points"], ZONE, strict=True):
        assert abs(x - ex) <= TOLERANCE and abs(y - ey) <= TOLERANCE
    [line] = intrusion["config"]["lines"]
    assert line["inside"] == "right" and abs(line["a"][0] - LINE_AB[0][0]) <= TOLERANCE
    assert page.state.text() == "enabled"
    assert page.editor.image is not None, page.editor.note  # the simulator's picture under the shapes
    assert page.window().grab().save(str(tmp_path / "zone_editor.png"))


@pytest.mark.slow
async def test_the_servers_refusals_are_shown_in_its_words(qtbot: QtBot, desk: Desk) -> None:
    small = await desk.api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201, json={
        "name": "small", "site_id": str(desk.api.seeded.site_id),
        "streams": [{"role": "main", "rtsp_url": "rtsp://127.0.0.1:9/none", "width": 640, "height": 360,
                     "bitrate_kbps": 2500}]})
    page = await _page(qtbot, desk, str(small["id"]), "intrusion")
    assert "No picture" in page.editor.note  # the camera is not streaming: said on the picture, not an error
    page.enable_button.click()
    await wait_until(lambda: page.runner.idle and page.message.is_error, LIMIT_S, "the refusal")
    assert page.message.text().startswith("Refused: intrusion is incompatible with this camera")
    assert "640x360" in page.message.text()
    # A detector score of 0 is outside the schema's bound (exclusive minimum): the server refuses the config.
    page.choose(desk.cameras["cam1"], "tailgating")
    await wait_until(lambda: page.runner.idle and page.camera_id() == desk.cameras["cam1"], LIMIT_S, "cam1")
    page.form.fields["min_score"][2].setValue(0)  # type: ignore[attr-defined]
    page.message.show_text("")
    page.enable_button.click()
    await wait_until(lambda: page.runner.idle and page.message.is_error, LIMIT_S, "the refusal")
    assert page.message.text().startswith("Refused: invalid tailgating configuration"), page.message.text()
    page.form.fields["min_score"][2].setValue(0.5)  # type: ignore[attr-defined]
    page.enable_button.click()  # nothing drawn: the model's default door applies, not "no door"
    await wait_until(lambda: page.runner.idle and page.state.text() == "enabled", LIMIT_S, "enabled")
    stored = (await desk.api.ok("GET", f"/api/v1/cameras/{desk.cameras['cam1']}/analytics"))["items"]
    assert len(next(i for i in stored if i["model"] == "tailgating")["config"]["doors"]) == 1


@pytest.mark.slow
async def test_a_supervisor_gets_no_analytics_tab(desk: Desk) -> None:
    client = VmsClient(desk.base_url)
    tokens = await desk.api.login(Role.SUPERVISOR)
    client.tokens = Tokens(tokens["access_token"], tokens["refresh_token"])
    try:
        api = AdminApi(client)
        await client.ensure_fresh()
        assert api.may_supervise() and not api.may_administer()
        assert AnalyticsPage not in pages_for(api)
        with pytest.raises(ServerError) as refused:
            await api.set_camera_analytics(desk.cameras["cam1"], "motion", enabled=True, config={})
        assert refused.value.status == 403
    finally:
        await client.close()


def _drag(qtbot: QtBot, page: AnalyticsPage, start: tuple[float, float], end: tuple[float, float]) -> None:
    a, b = page.editor.to_px(start), page.editor.to_px(end)
    qtbot.mousePress(page.editor, Qt.MouseButton.LeftButton, pos=QPoint(round(a.x()), round(a.y())))
    qtbot.mouseMove(page.editor, QPoint(round(b.x()), round(b.y())))
    qtbot.mouseRelease(page.editor, Qt.MouseButton.LeftButton, pos=QPoint(round(b.x()), round(b.y())))


@pytest.mark.slow
async def test_regions_and_the_motion_mask_are_dragged_out(qtbot: QtBot, desk: Desk) -> None:
    camera = desk.cameras["cam1"]
    page = await _page(qtbot, desk, camera, "missing_object")
    assert page.mode_buttons[RECT].isEnabled() and not page.mode_buttons[LINE].isEnabled()
    page.editor.set_shapes([])  # the person detector's default full-frame zone
    page.mode_buttons[RECT].click()
    _drag(qtbot, page, (0.1, 0.2), (0.4, 0.5))
    _drag(qtbot, page, (0.4, 0.5), (0.5, 0.6))  # the corner is moved, no second region drawn
    page.enable_button.click()
    await wait_until(lambda: (page.runner.idle and page.state.text() == "enabled") or page.message.is_error,
                     LIMIT_S, "the server answered")
    assert not page.message.is_error, page.message.text()
    stored = (await desk.api.ok("GET", f"/api/v1/cameras/{camera}/analytics"))["items"]
    [region] = next(i for i in stored if i["model"] == "missing_object")["config"]["regions"]
    for got, want in zip(region["box"], (0.1, 0.2, 0.5, 0.6), strict=True):
        assert abs(got - want) <= TOLERANCE
    page.choose(camera, "recording:motion_mask")
    await wait_until(lambda: page.runner.idle and page.model_name() == "recording:motion_mask", LIMIT_S, "mask")
    _drag(qtbot, page, (0.0, 0.0), (0.3, 0.1))
    page.save_button.click()
    await wait_until(lambda: (page.runner.idle and "Motion mask saved" in page.message.text())
                     or page.message.is_error, LIMIT_S, "the mask saved")
    assert not page.message.is_error, page.message.text()
    [mask] = (await desk.api.ok("GET", f"/api/v1/cameras/{camera}/recording-policy"))["motion_mask"]
    for key, want in (("x", 0.0), ("y", 0.0), ("w", 0.3), ("h", 0.1)):
        assert abs(mask[key] - want) <= TOLERANCE


def test_a_double_click_closes_the_polygon_and_delete_removes_it(qtbot: QtBot) -> None:
    editor = ShapeEditor()
    qtbot.addWidget(editor)
    editor.resize(640, 360)
    editor.set_mode(POLYGON)
    points = [editor.to_px(p) for p in ((0.1, 0.1), (0.9, 0.1), (0.5, 0.9))]
    for px in points[:-1]:
        qtbot.mouseClick(editor, Qt.MouseButton.LeftButton, pos=QPoint(round(px.x()), round(px.y())))
    last = QPoint(round(points[-1].x()), round(points[-1].y()))
    qtbot.mouseClick(editor, Qt.MouseButton.LeftButton, pos=last)
    qtbot.mouseDClick(editor, Qt.MouseButton.LeftButton, pos=last)
    [shape] = editor.shapes
    assert shape.kind == POLYGON and len(shape.points) == 3 and not editor.drawing
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    assert editor.shapes == []
