"""Recorded video of one camera into a tile, paced by the layout's PlaybackClock.

The server streams fragmented MP4 from the requested start (contract 2); a thread opens it with PyAV,
decodes, and hands each picture over when the clock reaches it. Seeking opens a new request, which is the
contract's way to seek.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import av
from PySide6.QtCore import QObject, Signal

from vms_desktop.client.api import VmsClient
from vms_desktop.playback.models.clock import PlaybackClock
from vms_desktop.video.decoder import to_qimage
from vms_desktop.video.frames import Frame, FrameSink
from vms_desktop.video.messages import playback_error, redact

logger = logging.getLogger(__name__)
LOOKAHEAD_US = 6 * 3600 * 1_000_000  # request this far; the stream ends where the recording ends


def iso(us: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).isoformat()


class PlaybackFeed(QObject):
    sig_status = Signal(str, str)

    def __init__(self, client: VmsClient, camera_id: str, stream: str, sink: FrameSink,
                 clock: PlaybackClock) -> None:
        super().__init__()
        self.client = client
        self.camera_id = camera_id
        self.stream = stream
        self.sink = sink
        self.clock = clock
        self.target = (0, 0)
        self.open_timeout_s = 10.0  # no answer within this: "Server unreachable"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _status(self, state: str, message: str) -> None:
        """From the playback thread: the signal is emitted on the UI thread, never here."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.sig_status.emit, state, message)

    def start(self) -> None:
        start_us = self.clock.position_us()
        url = self.client.url(f"/api/v1/cameras/{self.camera_id}/playback.mp4", {
            "start": iso(start_us), "end": iso(start_us + LOOKAHEAD_US), "stream": self.stream,
            "access_token": self.client.tokens.access_token if self.client.tokens else ""})
        self.sig_status.emit("connecting", "loading recording")
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:  # started outside the loop (scripts): statuses from the thread are dropped
            self._loop = None
        self._thread = threading.Thread(target=self._run, args=(url, start_us, self.clock.generation),
                                        name=f"playback-{self.camera_id[:8]}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)

    def set_target_size(self, width: int, height: int) -> None:
        self.target = (max(2, width - width % 2), max(2, height - height % 2))

    def _run(self, url: str, start_us: int, generation: int) -> None:
        try:
            # FFmpeg's rw_timeout, not PyAV's read timeout (which takes the GIL on every I/O poll).
            with av.open(url, options={"rw_timeout": "10000000"}, timeout=(self.open_timeout_s, None)) as container:
                self._play(container, start_us, generation)
        except (av.error.FFmpegError, OSError) as exc:
            if not self._stop.is_set():
                # The exception's text holds the URL and its access token: the log gets it masked, the tile
                # a plain state (never the text itself).
                logger.debug("playback of camera %s failed: %s", self.camera_id, redact(repr(exc)))
                self._status(*playback_error(exc))

    def _play(self, container: Any, start_us: int, generation: int) -> None:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            wall_us = start_us + int(float(frame.time or 0.0) * 1e6)
            if not self._wait_until(wall_us, generation):
                return
            self.sink.stats.decoded += 1
            self._deliver(frame, wall_us)
        if not self._stop.is_set():
            self._status("no_recording", "the recording ends here")

    def _wait_until(self, wall_us: int, generation: int) -> bool:
        while True:
            if self._stop.is_set() or self.clock.generation != generation:
                return False
            ahead_us = wall_us - self.clock.position_us()
            if ahead_us <= 0:
                return True
            wait = ahead_us / 1e6 / max(self.clock.speed, 0.01) if self.clock.playing else 0.05
            time.sleep(min(wait, 0.05))

    def _deliver(self, frame: Any, wall_us: int) -> None:
        width, height = self.target
        if width:
            scale = min(width / frame.width, height / frame.height)
            width, height = max(2, int(frame.width * scale) & ~1), max(2, int(frame.height * scale) & ~1)
        else:
            width, height = frame.width, frame.height
        rgb = frame.to_ndarray(format="rgb24", width=width, height=height)
        self.sink.offer(Frame(to_qimage(rgb), wall_us, frame.width, frame.height))

