"""A FrameSource fed by the ingest fan-out: the analytics stream shares the camera connection recording
already has (one connection per camera stream), and decodes its packets on the normaliser's thread."""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Iterator
from typing import Any

import av
import av.error

from vms_server.analytics.hwdecode import Decoder, HwDecodeFailed
from vms_server.analytics.jobs import SourceQuality
from vms_server.analytics.normaliser import RawFrame
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket

logger = logging.getLogger(__name__)


class IngestSource:
    """Registers as a PacketConsumer; `on_packet` (ingest thread) only queues, never decodes or blocks.
    When analytics falls behind, whole GOPs are dropped (a decoder needs a keyframe to restart)."""

    def __init__(self, worker: Any, max_packets: int = 300, hw_decode: str = "off",
                 hw_device: str | None = None) -> None:
        self.worker = worker
        self.hw_decode, self.hw_device = hw_decode, hw_device
        self.decode_path = "software"  # reported per camera (hw:<type> / software (<type>: <why>))
        self.quality: SourceQuality | None = None
        self.ntp = False
        self._queue: collections.deque[tuple[str, Any]] = collections.deque()
        self._max = max_packets
        self._cond = threading.Condition()
        self._closed = False
        self._bytes = 0
        self._first_us: int | None = None
        self.dropped = 0  # backlogs dropped (each restarts at a keyframe: a GOP or more lost to analytics)
        self.dropped_frames = 0  # pictures in them (ingest.consumer_loss reports both)

    # --- PacketConsumer (ingest thread) -------------------------------------------------------------
    def on_open(self, info: StreamInfo) -> None:
        with self._cond:
            self.quality = SourceQuality(info.width, info.height, 0.0, info.fps, info.codec)
            self._queue.append(("open", info))
            self._cond.notify()

    def on_packet(self, pkt: MediaPacket) -> None:
        data = bytes(pkt.packet)
        with self._cond:
            if len(self._queue) >= self._max:
                self.dropped_frames += sum(1 for kind, _ in self._queue if kind == "packet")
                self._queue.clear()
                self.dropped += 1
                self._queue.append(("resync", None))
            self._queue.append(("packet", (data, pkt.wall_us, pkt.keyframe)))
            self._account(len(data), pkt.wall_us)
            self._cond.notify()

    def on_close(self, reason: str) -> None:
        with self._cond:
            self._queue.append(("resync", None))
            self._cond.notify()

    def _account(self, size: int, wall_us: int) -> None:
        self._bytes += size
        if self._first_us is None:
            self._first_us = wall_us
        elapsed = (wall_us - self._first_us) / 1e6
        if elapsed >= 5 and self.quality is not None:
            kbps = self._bytes * 8 / 1000 / elapsed
            q = self.quality
            self.quality = SourceQuality(q.width, q.height, kbps, q.fps, q.codec)
            self._bytes, self._first_us = 0, wall_us

    # --- FrameSource (normaliser thread) ------------------------------------------------------------
    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.worker.remove(self)

    def _next(self) -> tuple[str, Any] | None:
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait(0.5)
            return None if self._closed else self._queue.popleft()

    def frames(self) -> Iterator[RawFrame]:
        self.worker.add(self)
        decoder: Decoder | None = None
        need_key = True
        while (item := self._next()) is not None:
            kind, value = item
            if kind == "open":
                decoder = Decoder(value.codec, value.extradata or None, self.hw_decode, self.hw_device)
                self.decode_path = decoder.path
                need_key = True
            elif kind == "resync":
                need_key = True
            elif decoder is not None:
                data, wall_us, key = value
                if need_key and not key:
                    continue
                need_key = False
                try:
                    decoded = decoder.decode(data)
                except (av.error.FFmpegError, HwDecodeFailed):
                    self.decode_path = decoder.path
                    need_key = True
                    continue
                ntp = getattr(getattr(self.worker, "health", None), "time_source", "server") == "ntp"
                for frame in decoded:
                    yield RawFrame(frame.to_ndarray(format="rgb24"), wall_us / 1e6, ntp)
