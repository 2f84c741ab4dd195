"""Issue #26: export the same range of several cameras of the wall, one server job per camera.

`POST /exports` takes one camera, so the client queues one job per checked camera and follows them side by
side on one progress bar. A small aiohttp server plays the exports API: each job runs for two polls before
it is done (or fails), and its file names its camera.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.desktop.conftest import wait_until
from tests.desktop.test_playback_loading import StillWall
from vms_desktop.actions import ActionManager
from vms_desktop.client.api import Tokens, VmsClient
from vms_desktop.playback.widgets.export_dialog import default_file_name
from vms_desktop.playback.widgets.playback_bar import PlaybackBar
from vms_desktop.wall.models.layout import Layout

START_US = 1_795_800_000_000_000
CAMERAS = {"cam-a": "Gate", "cam-b": "Yard"}


class ExportsApi:
    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.exports: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        export_id = f"e{len(self.exports) + 1}"
        self.exports[export_id] = body
        self.polls[export_id] = 0
        return web.json_response({"id": export_id, "state": "queued", "progress": 0.0}, status=202)

    async def get(self, request: web.Request) -> web.Response:
        export_id = request.match_info["export_id"]
        self.polls[export_id] += 1
        if self.polls[export_id] < 3:
            return web.json_response({"id": export_id, "state": "running", "progress": 0.5})
        if self.exports[export_id]["camera_id"] in self.failing:
            return web.json_response({"id": export_id, "state": "failed", "error": "no recorded video in this range"})
        return web.json_response({"id": export_id, "state": "done", "progress": 1.0})

    async def file(self, request: web.Request) -> web.Response:
        camera_id = self.exports[request.match_info["export_id"]]["camera_id"]
        return web.Response(body=f"mp4 of {camera_id}".encode(), content_type="video/mp4")

    async def recordings(self, request: web.Request) -> web.Response:
        return web.json_response({"ranges": [], "gaps": []})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v1/exports", self.create)
        app.router.add_get("/api/v1/exports/{export_id}", self.get)
        app.router.add_get("/api/v1/exports/{export_id}/file", self.file)
        for camera_id in CAMERAS:
            app.router.add_get(f"/api/v1/cameras/{camera_id}/recordings", self.recordings)
        return app


Make = Callable[..., Awaitable[tuple[PlaybackBar, ExportsApi, VmsClient]]]


@pytest.fixture
def make_bar(qtbot: QtBot, aiohttp_server: Any) -> Make:
    async def make(failing: frozenset[str] = frozenset()) -> tuple[PlaybackBar, ExportsApi, VmsClient]:
        api = ExportsApi(set(failing))
        client = VmsClient(f"http://127.0.0.1:{(await aiohttp_server(api.app())).port}")
        client.tokens = Tokens("access", "refresh")
        layout = Layout.grid(4, "Two")
        for camera_id in CAMERAS:
            layout.place(camera_id)
        wall = StillWall(client, {c: {"name": n, "streams": [{"role": "main"}]} for c, n in CAMERAS.items()}, layout)
        bar = PlaybackBar(client, ActionManager())
        for widget in (wall, bar):
            qtbot.addWidget(widget)
            widget.resize(480, 320)
        bar.attach(wall)
        wall.select(0, 0)
        bar.set_camera("cam-a")
        bar.timeline.selection = (START_US, START_US + 3_000_000)
        return bar, api, client

    return make


def _check_all(dialog: Any) -> None:
    for row in range(dialog.cameras.count()):
        dialog.cameras.item(row).setCheckState(Qt.CheckState.Checked)


async def test_the_same_range_of_two_cameras_is_exported_one_job_each(make_bar: Make, tmp_path: Path) -> None:
    bar, api, client = await make_bar()
    try:
        dialog = bar.export_dialog()
        assert dialog is not None and not dialog.cameras.isHidden()
        assert [dialog.cameras.item(i).text() for i in range(dialog.cameras.count())] == ["Gate", "Yard"]
        assert dialog.chosen() == [("cam-a", "Gate")], "the selected tile's camera is checked"
        assert "Export Gate:" in dialog.summary.text()
        _check_all(dialog)
        assert "2 cameras (Gate, Yard)" in dialog.summary.text()
        dialog.path.setText(str(tmp_path / "out"))
        progress: list[int] = []
        bar.progress.valueChanged.connect(progress.append)
        dialog.accept()
        files = [tmp_path / "out" / default_file_name(name, START_US) for name in CAMERAS.values()]
        await wait_until(lambda: all(f.exists() for f in files), 15, f"both files ({bar.export_label.text()})")
        await wait_until(lambda: bar.export_label.text().startswith("Exported 2 cameras"), 5, "result")
        assert [f.read_bytes() for f in files] == [b"mp4 of cam-a", b"mp4 of cam-b"]
        assert sorted(e["camera_id"] for e in api.exports.values()) == ["cam-a", "cam-b"]
        start = dt.datetime.fromisoformat(next(iter(api.exports.values()))["start"])
        assert {(e["start"], e["end"]) for e in api.exports.values()} == {
            (start.isoformat(), (start + dt.timedelta(seconds=3)).isoformat())}, "one range for all"
        assert any(0 < p < 100 for p in progress) and progress[-1] == 100
    finally:
        await bar.shutdown()
        await client.close()


async def test_a_camera_that_fails_is_named_and_the_others_are_saved(make_bar: Make, tmp_path: Path) -> None:
    bar, _, client = await make_bar(failing=frozenset({"cam-b"}))
    try:
        dialog = bar.export_dialog()
        assert dialog is not None
        _check_all(dialog)
        dialog.path.setText(str(tmp_path))
        dialog.accept()
        await wait_until(lambda: bar.export_label.text().startswith("Exported 1 of 2"), 15, bar.export_label.text())
        assert "failed: Yard (" in bar.export_label.text() and "no recorded video" in bar.export_label.text()
        assert (tmp_path / default_file_name("Gate", START_US)).exists()
        assert not (tmp_path / default_file_name("Yard", START_US)).exists()
    finally:
        await bar.shutdown()
        await client.close()


class CountingExportsApi(ExportsApi):
    """Also counts the user's exports in progress at once, as the server's per-user limit does."""

    def __init__(self) -> None:
        super().__init__(set())
        self.active: set[str] = set()
        self.most_at_once = 0

    async def create(self, request: web.Request) -> web.Response:
        response = await super().create(request)
        self.active.add(f"e{len(self.exports)}")
        self.most_at_once = max(self.most_at_once, len(self.active))
        return response

    async def get(self, request: web.Request) -> web.Response:
        response = await super().get(request)
        if self.polls[request.match_info["export_id"]] >= 3:
            self.active.discard(request.match_info["export_id"])
        return response


async def test_a_large_batch_queues_instead_of_exceeding_the_servers_limit(
        aiohttp_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vms_desktop.playback.models.export import ExportBatch, ExportTarget

    api = CountingExportsApi()
    client = VmsClient(f"http://127.0.0.1:{(await aiohttp_server(api.app())).port}")
    client.tokens = Tokens("access", "refresh")
    monkeypatch.setattr(ExportBatch, "AT_ONCE", 3)
    targets = [ExportTarget(f"cam-{i}", f"Camera {i}", tmp_path / f"{i}.mp4") for i in range(10)]
    try:
        saved = await ExportBatch(client, targets).run(START_US, START_US + 3_000_000)
    finally:
        await client.close()
    assert len(saved) == 10 and all(t.path.read_bytes() == f"mp4 of {t.camera_id}".encode() for t in targets)
    assert api.most_at_once == 3
