"""A cheap motion signal: difference of small grey keyframes of the (sub) stream.

Only keyframes are decoded (the decoder skips the rest), so the cost is one small decode per GOP per
camera; with the usual 1-2 s GOP that is the "low rate" the design asks for. A hit calls `on_motion`.

Fed by the native reader, whose one thread reads every camera of the process, the decode is handed to the
process's offload thread (`ingest/offload.py`): one 640x360 keyframe took 12 ms on a loaded 2-core machine, so
256 sub streams with a 1-2 s GOP cost 1.5-3 s of decoding a second, which on the reader's thread every camera's live
view and recording would wait for. That is more than the one offload thread can do: a keyframe that finds it too
far behind is not looked at (counted in `skipped`), and the next one, a GOP later, is compared with the last one
seen. Motion on hundreds of native-read sub streams therefore looks at a share of their keyframes, not all.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from vms_server.ingest.offload import Offload
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket

logger = logging.getLogger(__name__)
SIZE = (64, 36)
OFFLOAD_BACKLOG = 64  # jobs waiting on the offload thread past which a keyframe is not looked at


def changed_fraction(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8], level: int = 25,
                     keep: npt.NDArray[np.bool_] | None = None) -> float:
    """Share of the (unmasked) pixels whose grey level moved by more than `level`."""
    moved = np.abs(a.astype(np.int16) - b.astype(np.int16)) > level
    if keep is None:
        return float(moved.mean())
    return float(moved[keep].mean()) if keep.any() else 0.0


def keep_mask(rects: list[dict[str, float]]) -> npt.NDArray[np.bool_] | None:
    """Pixels of the small grey picture that count, from rectangles (fractions of the picture) to ignore."""
    if not rects:
        return None
    keep = np.ones((SIZE[1], SIZE[0]), dtype=bool)
    for r in rects:
        x0, y0 = int(r["x"] * SIZE[0]), int(r["y"] * SIZE[1])
        x1 = max(x0 + 1, round((r["x"] + r["w"]) * SIZE[0]))
        y1 = max(y0 + 1, round((r["y"] + r["h"]) * SIZE[1]))
        keep[y0:y1, x0:x1] = False
    return keep


class MotionDetector:
    """PacketConsumer on the analytics/live stream. `sensitivity` 0..1 (1 = the smallest change counts)."""

    def __init__(self, camera_id: str, sensitivity: float, on_motion: Callable[[int], None],
                 mask: list[dict[str, float]] | None = None) -> None:
        self.camera_id = camera_id
        self.threshold = 0.002 + (1.0 - sensitivity) * 0.1
        self.keep = keep_mask(mask or [])
        self.on_motion = on_motion
        self._decoder: Any = None
        self._last: npt.NDArray[np.uint8] | None = None
        self.offload: Offload | None = None  # set by a reader whose thread serves many cameras
        self.skipped = 0  # keyframes not looked at: the offload thread was too far behind

    def on_open(self, info: StreamInfo) -> None:
        ctx = av.CodecContext.create(info.codec, "r")
        if info.extradata:
            ctx.extradata = info.extradata
        ctx.skip_frame = "NONKEY"
        ctx.thread_type = "NONE"
        self._decoder = ctx
        self._last = None

    def on_close(self, reason: str) -> None:
        self._decoder = None
        self._last = None

    def on_packet(self, pkt: MediaPacket) -> None:
        decoder = self._decoder
        if not pkt.keyframe or decoder is None:
            return
        if self.offload is None:
            self._detect(decoder, bytes(pkt.packet), pkt.wall_us)
        elif self.offload.pending > OFFLOAD_BACKLOG:
            self.skipped += 1
        else:  # the decoder goes with the job: a reconnect meanwhile makes a new one, this one finishes alone
            self.offload.submit(functools.partial(self._detect, decoder, bytes(pkt.packet), pkt.wall_us))

    def _detect(self, decoder: Any, data: bytes, wall_us: int) -> None:
        try:
            frames = decoder.decode(av.Packet(data))
        except av.error.FFmpegError:
            return
        for frame in frames:
            grey = frame.reformat(width=SIZE[0], height=SIZE[1], format="gray").to_ndarray()
            if self._last is not None and changed_fraction(grey, self._last, keep=self.keep) >= self.threshold:
                self.on_motion(wall_us)
            self._last = grey
