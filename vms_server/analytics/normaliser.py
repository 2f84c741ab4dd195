"""The normaliser: decode the analytics stream off the event loop, keep `fps` frames per second, letterbox
them (no distortion) to the pipeline size in RGB and stamp each with wall-clock time.

Frames come from a `FrameSource`: straight from an RTSP URL with PyAV (`RtspSource`), or any other
decoder (a file, the ingest fan-out). The normaliser runs on its own thread and hands frames to a sink on
that thread; only finished jobs cross to the event loop.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import av
import av.error
import cv2
import numpy as np

from vms_server.analytics.jobs import SourceQuality
from vms_server.analytics.threads import lower_thread_priority_blocking
from vms_server.analytics.types import Frame, Image

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RawFrame:
    """A decoded source picture (RGB) and its capture time in Unix seconds."""

    image: Image
    ts: float
    ntp: bool  # True when the time came from the camera's RTCP sender reports


class FrameSource(Protocol):
    """Something that yields decoded pictures. `frames` blocks; `close` may be called from another thread."""

    quality: SourceQuality | None

    def frames(self) -> Iterator[RawFrame]: ...

    def close(self) -> None: ...


def letterbox(image: Image, width: int, height: int) -> Image:
    """Scale to fit inside width x height keeping the aspect ratio; pad the rest black."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    out = np.zeros((height, width, 3), np.uint8)
    x0, y0 = (width - nw) // 2, (height - nh) // 2
    out[y0:y0 + nh, x0:x0 + nw] = resized
    return out


def _prft_seconds(packet: Any) -> float | None:
    from vms_server.ingest.source import producer_time_us  # optional: present once ingest is installed

    us = producer_time_us(packet)
    return None if us is None else us / 1e6


class RtspSource:
    """PyAV demux + decode of one RTSP (or file) URL. Timestamps: the camera's NTP wall clock when FFmpeg
    got RTCP sender reports, else the stream clock anchored to the arrival of the first frame."""

    def __init__(self, url: str, *, transport: str = "tcp", open_timeout_s: float = 10.0, realtime: bool = True,
                 loop: bool = False) -> None:
        self.url = url
        self.transport = transport
        self.open_timeout_s = open_timeout_s
        self.realtime = realtime
        self.loop = loop
        self.quality: SourceQuality | None = None
        self._stop = threading.Event()

    def close(self) -> None:
        self._stop.set()

    def _open(self) -> Any:
        options = {"rtsp_transport": self.transport, "timeout": str(int(self.open_timeout_s * 1e6))} \
            if self.url.startswith("rtsp") else {}
        # Reads time out in FFmpeg's socket layer: PyAV's read timeout would take the GIL on every poll.
        return av.open(self.url, options=options, timeout=(self.open_timeout_s, None))

    def frames(self) -> Iterator[RawFrame]:
        while not self._stop.is_set():
            container = self._open()
            try:
                yield from self._decode(container)
            finally:
                container.close()
            if not self.loop:
                return

    def _decode(self, container: Any) -> Iterator[RawFrame]:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        ctx = stream.codec_context
        fps = float(stream.average_rate or stream.guessed_rate or 15)
        kbps = (container.bit_rate or ctx.bit_rate or 0) / 1000
        self.quality = SourceQuality(ctx.width, ctx.height, kbps, fps, ctx.name)
        anchor: tuple[float, float] | None = None
        for packet in container.demux(stream):
            if self._stop.is_set():
                return
            ntp = _prft_seconds(packet) if packet.pts is not None else None
            for frame in packet.decode():
                pts = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
                if anchor is None:
                    anchor = (time.time(), pts)
                ts = ntp if ntp is not None else anchor[0] + (pts - anchor[1])
                if self.realtime and ntp is None and not self.url.startswith("rtsp"):
                    time.sleep(max(0.0, ts - time.time()))  # files play at their own rate, like a camera
                yield RawFrame(frame.to_ndarray(format="rgb24"), ts, ntp is not None)


@dataclass
class LatencyStats:
    """Camera-to-pipeline latency of recent frames (seconds)."""

    window: collections.deque[float]

    @classmethod
    def create(cls, size: int = 300) -> LatencyStats:
        return cls(collections.deque(maxlen=size))

    def add(self, value: float) -> None:
        self.window.append(value)

    def percentile(self, q: float) -> float | None:
        if not self.window:
            return None
        ordered = sorted(self.window)
        return ordered[min(len(ordered) - 1, int(q / 100 * (len(ordered) - 1) + 0.5))]


class Normaliser:
    """Runs a FrameSource on a thread, rate-limits it to `fps`, letterboxes and passes frames to `sink`."""

    def __init__(self, source: FrameSource, sink: Callable[[Frame], None], *, width: int = 640,
                 height: int = 480, fps: float = 15.0, name: str = "analytics",
                 on_error: Callable[[BaseException], None] | None = None, nice: int = 0) -> None:
        """`nice`: how much lower the thread's CPU priority is (a camera with no CRITICAL model decodes after
        the ones with one when the cores are short; `analytics.threads`)."""
        self.source = source
        self.nice = nice
        self.sink = sink
        self.size = (width, height)
        self.interval = 1.0 / fps
        self.latency = LatencyStats.create()
        self.frames_in = 0
        self.frames_out = 0
        self.ntp = False
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name=f"normaliser-{name}", daemon=True)
        self._next_ts = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop_blocking(self, timeout: float = 10.0) -> None:
        self.source.close()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def push_blocking(self, raw: RawFrame) -> Frame | None:
        """Normalise one picture (drops it when it comes sooner than the target rate)."""
        self.frames_in += 1
        if raw.ts + 1e-3 < self._next_ts:
            return None
        self._next_ts = max(self._next_ts + self.interval, raw.ts) if self._next_ts else raw.ts + self.interval
        if raw.ts - self._next_ts > self.interval:  # after a gap, do not try to catch up
            self._next_ts = raw.ts + self.interval
        image = letterbox(raw.image, *self.size)
        now = time.time()
        frame = Frame(self.frames_out, raw.ts, image, now)
        self.latency.add(now - raw.ts)
        self.frames_out += 1
        self.ntp = raw.ntp
        self.sink(frame)
        return frame

    def _run(self) -> None:
        lower_thread_priority_blocking(self.nice)
        try:
            for raw in self.source.frames():
                self.push_blocking(raw)
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            logger.warning("analytics source failed: %s", exc)
            if self._on_error is not None:
                self._on_error(exc)
