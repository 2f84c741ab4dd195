"""The playback bar under the wall: timeline plus play/pause, speed, step, live and export.

Switching to playback gives every tile of the current layout a PlaybackFeed on one shared clock, so all of
them show the same moment; going live gives them back their live feeds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from vms_desktop.actions import ActionId, ActionManager
from vms_desktop.client.api import ClientError, VmsClient
from vms_desktop.events.models.event_model import PRIORITY_COLOURS, parse_time
from vms_desktop.playback.feed import PlaybackFeed, iso
from vms_desktop.playback.models.clock import PlaybackClock
from vms_desktop.playback.models.export import ExportBatch, ExportTarget
from vms_desktop.playback.widgets.export_dialog import ExportDialog
from vms_desktop.playback.widgets.timeline import Marker, TimelineWidget
from vms_desktop.video.frames import FrameSink
from vms_desktop.wall.widgets.tile import VideoTile
from vms_desktop.wall.widgets.wall import Feed, VideoWall

logger = logging.getLogger(__name__)
SPEEDS = ("0.25", "0.5", "1", "2", "4", "8", "16")
STEP_US = 100_000  # a step when no tile has a decoded picture waiting (one frame at 10 fps)
NOW_INTERVAL_MS = 500  # how often the present moves on the timeline (and a following view with it)


def now_us() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp() * 1e6)


class PlaybackBar(QWidget):
    sig_mode = Signal(str)  # "live" | "playback"
    sig_export_status = Signal(str)  # for the window's status bar: the mode label is not overwritten

    def __init__(self, client: VmsClient, commands: ActionManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.clock = PlaybackClock()
        self.mode = "live"
        self.wall: VideoWall | None = None
        self.camera_id: str | None = None
        self.export_job: ExportBatch | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self.timeline = TimelineWidget()
        self.live_button = QPushButton("Live")
        self.now_button = QPushButton("Now")
        self.now_button.setToolTip("Jump to now: show the present on the timeline and follow it")
        self.play_button = QPushButton("Play")
        self.step_button = QPushButton("Step")
        self.step_back_button = QPushButton("Back")
        self.step_back_button.setToolTip("Step back one frame (,)")
        self.speed = QComboBox()
        self.speed.addItems([f"{s}x" for s in SPEEDS])
        self.speed.setCurrentText("1x")
        self.export_button = QPushButton("Export…")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        self.label = QLabel("Live")
        self.export_label = QLabel()
        self.export_folder = Path.home()
        self._build()
        self._ticker = QTimer(self)
        self._ticker.setInterval(100)
        self._ticker.timeout.connect(self._tick)
        self._now_timer = QTimer(self)
        self._now_timer.setInterval(NOW_INTERVAL_MS)
        self._now_timer.timeout.connect(lambda: self.timeline.set_now(now_us()))
        self._now_timer.start()
        self.timeline.set_now(now_us())
        self.timeline.sig_seek.connect(self.seek)
        self.live_button.clicked.connect(self.go_live)
        self.now_button.clicked.connect(self.jump_to_now)
        self.play_button.clicked.connect(self.toggle_play)
        self.step_button.clicked.connect(self.step)
        self.step_back_button.clicked.connect(self.step_back)
        self.speed.currentTextChanged.connect(lambda text: self.clock.set_speed(float(text.rstrip("x"))))
        self.export_button.clicked.connect(self._ask_export)
        commands.on(ActionId.PLAY_PAUSE, lambda _: self.toggle_play())
        commands.on(ActionId.STEP_FRAME, lambda _: self.step())
        commands.on(ActionId.STEP_BACK, lambda _: self.step_back())
        commands.on(ActionId.GO_LIVE, lambda _: self.go_live())
        commands.on(ActionId.JUMP_NOW, lambda _: self.jump_to_now())

    def _build(self) -> None:
        controls = QHBoxLayout()
        for widget in (self.live_button, self.now_button, self.play_button, self.step_back_button,
                       self.step_button, self.speed, self.export_button):
            controls.addWidget(widget)
        controls.addWidget(self.progress, 1)
        controls.addWidget(self.export_label)
        controls.addWidget(self.label)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.timeline)
        box.addLayout(controls)

    def _spawn(self, coro: Any) -> asyncio.Future[Any]:
        task: asyncio.Future[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- what is shown ---------------------------------------------------------------------------

    def attach(self, wall: VideoWall | None) -> None:
        """Follow the wall of the current layout tab."""
        if self.wall is wall:
            return
        if self.wall is not None and self.mode == "playback":
            self._use_live(self.wall)
        self.wall = wall
        if wall is not None and self.mode == "playback":
            self._use_playback(wall)

    def set_camera(self, camera_id: str | None) -> None:
        self.camera_id = camera_id
        if camera_id:
            self._spawn(self.load_timeline())

    async def load_timeline(self) -> None:
        if not self.camera_id:
            return
        t = self.timeline
        try:
            data = await self.client.request("GET", f"/api/v1/cameras/{self.camera_id}/recordings", params={
                "start": iso(t.view_start_us - t.span_us), "end": iso(t.view_end_us + t.span_us)})
        except ClientError as exc:
            self.label.setText(exc.message)
            return

        def spans(items: list[dict[str, Any]]) -> list[tuple[int, int]]:
            return [(int(parse_time(i["start"]).timestamp() * 1e6), int(parse_time(i["end"]).timestamp() * 1e6))
                    for i in items]

        t.set_recordings(spans(data.get("ranges", [])), spans(data.get("gaps", [])))

    def set_event_markers(self, events: list[dict[str, Any]]) -> None:
        self.timeline.markers = [
            Marker(int(parse_time(str(e["timestamp"])).timestamp() * 1e6),
                   PRIORITY_COLOURS.get(str(e.get("priority"))) or PRIORITY_COLOURS["STANDARD"],
                   str(e.get("event_type", "")), str(e["id"]))
            for e in events if not self.camera_id or str(e.get("camera_id")) == self.camera_id]
        self.timeline.update()

    # --- playback control ------------------------------------------------------------------------

    def _playback_factory(self, camera_id: str, stream: str, sink: FrameSink) -> Feed:
        return PlaybackFeed(self.client, camera_id, "main", sink, self.clock)

    def _use_playback(self, wall: VideoWall) -> None:
        wall.feed_factory = self._playback_factory
        wall.restart_all()

    def _use_live(self, wall: VideoWall) -> None:
        wall.feed_factory = wall.live_feed
        wall.restart_all()

    def seek(self, position_us: int) -> None:
        """Show every tile of the layout at this moment (entering playback if live)."""
        self.clock.seek(min(position_us, now_us()))
        self.timeline.set_playhead(self.clock.position_us())
        if self.mode != "playback":
            self.mode = "playback"
            self.timeline.following = False  # the playhead leads the view now, not the present
            self.clock.play()
            self._ticker.start()
            self.sig_mode.emit("playback")
        if self.wall is not None:
            self._use_playback(self.wall)
        self._show_state()

    def toggle_play(self) -> None:
        if self.mode != "playback":
            return
        if self.clock.playing:
            self.clock.pause()
        else:
            self.clock.play()
        self._show_state()

    def step(self) -> None:
        """On one frame, paused: to the picture the reference tile's decoder holds next (a fixed 100 ms
        skipped frames of cameras above 10 fps), or 100 ms when no tile has one waiting."""
        if self.mode == "playback":
            self.clock.pause()
            position = self.clock.position_us()
            waiting = [feed.next_us for feed in self._reference_feeds() if feed.next_us > position]
            self.clock.step(waiting[0] - position if waiting else STEP_US)
            self._show_state()

    def _reference_tiles(self) -> list[VideoTile]:
        """The selected tile first, then the wall's others: the one whose frames a step follows."""
        if self.wall is None:
            return []
        tiles = [self.wall.tiles[cell] for cell in sorted(self.wall.tiles)]
        if self.wall.selected is not None:
            tiles.insert(0, self.wall.selected)
        return tiles

    def _reference_feeds(self) -> list[PlaybackFeed]:
        feeds = [self.wall.feeds.get((t.row, t.col)) for t in self._reference_tiles()] if self.wall else []
        return [feed for feed in feeds if isinstance(feed, PlaybackFeed)]

    def step_back(self) -> None:
        """Back one frame, paused. A decoder only goes forward, so every tile seeks again: the server streams
        from the keyframe before the new position and the tiles decode up to it (it was a whole second)."""
        if self.mode == "playback":
            self.clock.pause()
            self.seek(self.previous_frame_us())

    def previous_frame_us(self) -> int:
        """The time of the picture before the one the reference tile shows (the selected tile, else the
        first with a picture): its exact time when the tile's feed delivered it, else one microsecond before
        the shown picture, which the tile's next stream then ends on. Other tiles follow the shared clock."""
        position = self.clock.position_us()
        for tile in self._reference_tiles():
            if 0 < tile.frame_time_us <= position:
                feed = self.wall.feeds.get((tile.row, tile.col)) if self.wall is not None else None
                before = feed.frame_before(tile.frame_time_us) if isinstance(feed, PlaybackFeed) else None
                return before if before is not None else tile.frame_time_us - 1
        return position - 1

    def jump_to_now(self) -> None:
        """The present: back to live (nothing is recorded after now) with the timeline following it."""
        if self.mode == "playback":
            self.go_live()
        self.timeline.jump_to_now(now_us())

    def go_live(self) -> None:
        if self.mode == "live":
            return
        self.mode = "live"
        self.clock.pause()
        self.speed.setCurrentText("1x")  # the next playback must not start at 16x unnoticed (issue #26, defect 5)
        self._ticker.stop()
        self.timeline.set_playhead(None)
        self.timeline.jump_to_now(now_us())
        if self.wall is not None:
            self._use_live(self.wall)
        self.sig_mode.emit("live")
        self._show_state()

    def _show_state(self) -> None:
        self.play_button.setText("Pause" if self.clock.playing else "Play")
        if self.mode == "live":
            self.label.setText("Live")
            return
        position = dt.datetime.fromtimestamp(self.clock.position_us() / 1e6).strftime("%Y-%m-%d %H:%M:%S")
        self.label.setText(f"Playback {position} {'▶' if self.clock.playing else '❚❚'}")

    def _tick(self) -> None:
        position = self.clock.position_us()
        self.timeline.set_playhead(position)
        if not self.timeline.view_start_us <= position <= self.timeline.view_end_us:
            self.timeline.centre_on(position)
        self._show_state()

    # --- export ----------------------------------------------------------------------------------

    def export_range(self) -> tuple[int, int]:
        """The selected range, or the 30 s before the playhead (or now)."""
        if self.timeline.selection is not None:
            return self.timeline.selection
        end = self.clock.position_us() if self.mode == "playback" else now_us()
        return end - 30_000_000, end

    def _camera_name(self, camera_id: str) -> str:
        cameras = self.wall.cameras if self.wall is not None else {}
        return str(cameras.get(camera_id, {}).get("name", camera_id[:8]))

    def _wall_cameras(self) -> list[tuple[str, str]]:
        """(id, name) of the cameras on the wall, once each, in the order of their cells."""
        seen: dict[str, str] = {}
        if self.wall is not None:
            for cell in sorted(self.wall.tiles):
                camera_id = self.wall.tiles[cell].camera_id
                if camera_id and camera_id not in seen:
                    seen[camera_id] = self._camera_name(camera_id)
        if self.camera_id and self.camera_id not in seen:
            seen[self.camera_id] = self._camera_name(self.camera_id)
        return list(seen.items())

    def export_dialog(self) -> ExportDialog | None:
        """Open the dialog that names the camera(s) and the range; accepting it starts the export. The
        selected tile's camera is checked; the other cameras of the wall can be added (the same range)."""
        cameras = self._wall_cameras()
        if not cameras:
            self._export_status("Put a camera on the wall to export")
            return None
        checked = {self.camera_id} if self.camera_id else {camera_id for camera_id, _ in cameras}
        span = self.export_range()
        dialog = ExportDialog(cameras, checked, *span, self.export_folder, self)
        dialog.accepted.connect(lambda: self.start_exports(dialog.targets(), span))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _ask_export(self) -> None:
        self.export_dialog()

    def _export_status(self, text: str) -> None:
        """Export news goes beside the progress bar and to the status bar; the mode label keeps saying
        Live or Playback (an export's result used to replace it)."""
        self.export_label.setText(text)
        self.sig_export_status.emit(text)

    def start_export(self, target: Path, camera_id: str | None = None,
                     span: tuple[int, int] | None = None) -> asyncio.Future[Any] | None:
        """One camera (the selected tile's unless named) to one file."""
        camera_id = camera_id or self.camera_id
        if not camera_id:
            self._export_status("Select a tile with a camera to export")
            return None
        return self.start_exports([ExportTarget(camera_id, self._camera_name(camera_id), target)], span)

    def start_exports(self, targets: list[ExportTarget],
                      span: tuple[int, int] | None = None) -> asyncio.Future[Any] | None:
        """The same range of every target camera, one server job each, side by side; one progress bar."""
        if not targets:
            return None
        start, end = span or self.export_range()
        self.export_folder = targets[0].path.parent
        batch = ExportBatch(self.client, targets)
        self.export_job = batch
        self.progress.setValue(0)
        self.progress.setVisible(True)
        batch.sig_progress.connect(lambda p: self.progress.setValue(int(p * 100)))
        batch.sig_status.connect(self._export_status)
        return self._spawn(batch.run(start, end))

    async def shutdown(self) -> None:
        self._ticker.stop()
        self._now_timer.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
