"""Machine-readable capture-time stamp drawn into every simulated frame.

Latency tests need to know when a decoded frame was captured without trusting any metadata on
the way, so the time is painted as a grid of black and white cells in the top-left corner. The
cells are large (at least 6 px) so they survive lossy encoding at the bitrates we use.

Layout: 16 columns x 5 rows. Row 0 is a fixed 1010... sync pattern, rows 1-4 carry 64 bits
(MSB first): 40 bits time value, 16 bits period in seconds, 8 bits CRC-8 of the first 56 bits.

A pre-encoded loop cannot know the wall clock, so its streams are aligned to it instead: frame
``k`` of the loop is sent at wall time ``t`` with ``t mod period == value``. A live-encoded stream
(PTZ) writes period 0 and ``epoch_ms mod 2**40``. Either way ``FrameStamp.capture_time_ms(now)``
recovers the absolute capture time as long as the latency is below the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

COLS = 16
ROWS = 5
_SYNC = [1 if i % 2 == 0 else 0 for i in range(COLS)]
_LIVE_PERIOD_MS = 1 << 40

Frame = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class FrameStamp:
    """A decoded stamp: the time value and the period it wraps around at (both in ms)."""

    value_ms: int
    period_ms: int

    def capture_time_ms(self, now_ms: int) -> int:
        """Absolute capture time (Unix ms) of the frame, assuming it was captured within one period."""
        return now_ms - ((now_ms - self.value_ms) % self.period_ms)

    def latency_ms(self, now_ms: int) -> int:
        """How long ago (ms) the frame was captured, as seen at ``now_ms``."""
        return now_ms - self.capture_time_ms(now_ms)


def cell_size(width: int) -> int:
    """Cell edge in pixels for a frame of this width (encoder and decoder must agree)."""
    return max(6, width // 96)


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _payload_bits(value_ms: int, period_s: int) -> list[int]:
    head = ((value_ms & (_LIVE_PERIOD_MS - 1)) << 16) | (period_s & 0xFFFF)
    word = (head << 8) | _crc8(head.to_bytes(7, "big"))
    return [(word >> (63 - i)) & 1 for i in range(64)]


def draw_stamp(frame: Frame, value_ms: int, period_s: int) -> None:
    """Paint the stamp in place into an RGB (H, W, 3) or grey (H, W) uint8 frame.

    ``period_s`` is the loop length in whole seconds, or 0 for a live stream stamped with Unix ms.
    """
    cell = cell_size(frame.shape[1])
    bits = _SYNC + _payload_bits(value_ms, period_s)
    frame[0 : (ROWS + 2) * cell, 0 : (COLS + 2) * cell] = 0
    for index, bit in enumerate(bits):
        if bit:
            row, col = divmod(index, COLS)
            y, x = (row + 1) * cell, (col + 1) * cell
            frame[y : y + cell, x : x + cell] = 255


def decode_stamp(frame: npt.NDArray[Any]) -> FrameStamp | None:
    """Read the stamp from a decoded frame (RGB/BGR (H, W, 3) or grey (H, W) uint8).

    Returns None when the frame carries no valid stamp (sync pattern or checksum mismatch), e.g.
    a covered camera or a corrupted picture.
    """
    grey = frame if frame.ndim == 2 else frame.mean(axis=2)
    cell = cell_size(grey.shape[1])
    if grey.shape[0] < (ROWS + 2) * cell or grey.shape[1] < (COLS + 2) * cell:
        return None
    half = cell // 2
    bits: list[int] = []
    for index in range(ROWS * COLS):
        row, col = divmod(index, COLS)
        y, x = (row + 1) * cell + half, (col + 1) * cell + half
        patch = grey[y - 1 : y + 2, x - 1 : x + 2]
        bits.append(1 if float(patch.mean()) > 128 else 0)
    if bits[:COLS] != _SYNC:
        return None
    word = 0
    for bit in bits[COLS:]:
        word = (word << 1) | bit
    head = word >> 8
    if _crc8(head.to_bytes(7, "big")) != word & 0xFF:
        return None
    period_s = head & 0xFFFF
    period_ms = period_s * 1000 if period_s else _LIVE_PERIOD_MS
    return FrameStamp(value_ms=head >> 16, period_ms=period_ms)
