"""Decoding off the UI thread: one thread per tile owns a PyAV codec context.

Packets come in from the event loop through a bounded queue. When the queue overflows (a slow machine, a
burst after a stall) everything queued is dropped and decoding resumes at the next keyframe, which keeps
latency bounded instead of letting it grow. Only the newest decoded picture of a burst is converted and
scaled, since older ones would never be shown.

The UI thread was the limit of a 36-tile wall (issue #17), so everything per picture that can be done here is:
the picture is converted straight to the 32-bit layout of the window's backing store and scaled to exactly
the rectangle the tile paints it in (`fit_size`, Qt's own rounding), so the tile only copies it. The worker
keeps one swscale context (a new one per picture, as `VideoFrame.to_ndarray(width=...)` makes, started and
joined a scaler thread pool every picture and held the GIL that the UI thread waits for) and scales on this
thread alone.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PySide6.QtGui import QImage

from vms_desktop.video.frames import Frame, FrameSink, fit_size

logger = logging.getLogger(__name__)
_CODECS = {"h264": "h264", "hevc": "hevc", "h265": "hevc", "mjpeg": "mjpeg"}
QUEUE_LIMIT = 60

Probe = Callable[[np.ndarray, int], None]  # full-resolution grey picture, timestamp_us
_LUMA_FIRST = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "gray"})


@dataclass
class _Packet:
    timestamp_us: int
    keyframe: bool
    data: bytes


def bgra_to_qimage(frame: av.VideoFrame) -> QImage:
    """Copy a packed bgra frame into a new QImage (Format_RGB32, the backing store's own layout) that owns its
    pixels. The image is allocated by Qt and filled through numpy rather than wrapping the frame's buffer: no
    Python object is shared with Qt, which keeps reference counting simple in decoder threads."""
    width, height = frame.width, frame.height
    plane = frame.planes[0]
    image = QImage(width, height, QImage.Format.Format_RGB32)
    stride = image.bytesPerLine()
    pixels = np.frombuffer(image.bits(), dtype=np.uint8, count=stride * height).reshape(height, stride)
    source = np.frombuffer(plane, dtype=np.uint8, count=plane.line_size * height).reshape(height, plane.line_size)
    pixels[:, : width * 4] = source[:, : width * 4]
    return image


class PictureScaler:
    """One thread's conversion of decoded pictures to tile-sized QImages, with one swscale context kept for
    as long as the sizes stay the same. Not shared between threads (swscale contexts are not thread-safe)."""

    def __init__(self) -> None:
        self._reformatter = VideoReformatter()

    def to_tile(self, frame: av.VideoFrame, target: tuple[int, int]) -> QImage:
        """The picture fitted to target (width, height; 0: the source size), as the tile paints it."""
        if target[0]:
            width, height = fit_size(frame.width, frame.height, target[0], target[1])
        else:
            width, height = frame.width, frame.height
        picture = self._reformatter.reformat(frame, width, height, "bgra", interpolation="BILINEAR", threads=1)
        return bgra_to_qimage(picture)


class DecodeWorker:
    """Decode one elementary stream into a FrameSink. `submit` never blocks."""

    def __init__(self, codec: str, sink: FrameSink, camera_id: str = "") -> None:
        name = _CODECS.get(codec.lower())
        if name is None:
            raise ValueError(f"unsupported codec {codec!r}")
        self.codec = name
        self.sink = sink
        self.camera_id = camera_id
        self.target: tuple[int, int] = (0, 0)  # 0: source size
        self.probe: Probe | None = None
        self._scaler = PictureScaler()  # used by the decoder thread only
        self._queue: queue.Queue[_Packet | None] = queue.Queue(QUEUE_LIMIT)
        self._need_key = True
        self._thread = threading.Thread(target=self._run, name=f"decode-{camera_id[:8]}", daemon=True)
        self._thread.start()

    def set_target_size(self, width: int, height: int) -> None:
        """Scale pictures to this size in the decoder thread (the tile's size), keeping the UI cheap."""
        self.target = (max(1, width), max(1, height))

    def submit(self, timestamp_us: int, keyframe: bool, data: bytes) -> None:
        stats = self.sink.stats
        stats.received += 1
        if self._need_key and not keyframe:
            stats.dropped += 1
            return
        self._need_key = False
        try:
            self._queue.put_nowait(_Packet(timestamp_us, keyframe, data))
        except queue.Full:
            self._flush()
            stats.dropped += 1
            self._need_key = not keyframe
            if keyframe:
                self._queue.put_nowait(_Packet(timestamp_us, keyframe, data))

    def _flush(self) -> None:
        while True:
            try:
                if self._queue.get_nowait() is not None:
                    self.sink.stats.dropped += 1
            except queue.Empty:
                return

    def stop(self) -> None:
        self._flush()
        with contextlib.suppress(queue.Full):  # just flushed: cannot be full
            self._queue.put_nowait(None)
        self._thread.join(timeout=2)

    def _run(self) -> None:
        context: Any = av.CodecContext.create(self.codec, "r")
        context.thread_count = 1  # many tiles: one thread each is the better trade than frame threading
        while True:
            packet = self._queue.get()
            if packet is None:
                return
            try:
                frames = context.decode(av.Packet(packet.data))
            except av.error.FFmpegError as exc:
                self.sink.stats.errors += 1
                logger.debug("decode error: %s", exc, extra={"camera_id": self.camera_id})
                continue
            for frame in frames:
                self.sink.stats.decoded += 1
                if not self._queue.empty():
                    self.sink.stats.superseded += 1  # a newer picture is right behind: do not convert this one
                    continue
                if self.probe is not None:  # only pictures handed to the tile can be painted
                    self.probe(self._grey(frame), packet.timestamp_us)
                self._deliver(frame, packet.timestamp_us)

    def _grey(self, frame: av.VideoFrame) -> np.ndarray:
        """The picture in grey for the probe: the luma plane as it is where there is one (no conversion)."""
        if frame.format.name in _LUMA_FIRST:
            plane = frame.planes[0]
            rows = np.frombuffer(plane, dtype=np.uint8, count=plane.line_size * frame.height)
            return rows.reshape(frame.height, plane.line_size)[:, : frame.width]
        grey: np.ndarray = frame.to_ndarray(format="gray")
        return grey

    def _deliver(self, frame: av.VideoFrame, timestamp_us: int) -> None:
        image = self._scaler.to_tile(frame, self.target)
        self.sink.offer(Frame(image, timestamp_us, frame.width, frame.height))
