"""The camera's own storage ("edge storage", the SD card of ONVIF Profile G), and its network switch.

A real camera with a card keeps recording while its network is down, and a VMS that sees it again fills
the hole in its footage from the card (search, then replay over RTSP). The simulator's card holds the last
``card_minutes`` of the camera's main stream since the simulator started, whatever the network did.

What it holds is a time range, not a copy of the bytes: a loop-fed stream is aligned to the wall clock
(picture ``floor(t * fps) mod len(loop)`` is on air at ``t``, see feeds.py), so the access units the card
replays for a past instant are exactly the ones the live stream sent (or would have sent, had the network
been up) at that instant. Storing them again would hold the same bytes. PTZ cameras render live pictures
that depend on past commands, so they have no card.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

from vms_camsim.encoder import AccessUnit, EncodedLoop


@dataclass
class EdgeCard:
    """The recording on one camera's card: the main stream from ``started``, the last ``retention_s`` kept."""

    camera: str
    loop: EncodedLoop
    started: float
    retention_s: float

    @property
    def token(self) -> str:
        """The recording token (one recording per camera, as most cameras with a card have)."""
        return f"{self.camera}-card"

    def span(self, now: float | None = None) -> tuple[float, float]:
        """(earliest, latest) Unix time of what the card holds now."""
        now = time.time() if now is None else now
        return max(self.started, now - self.retention_s), now

    def clip(self, start: float, end: float, now: float | None = None) -> tuple[float, float] | None:
        """``[start, end]`` cut to what the card holds; None when nothing of it is there."""
        earliest, latest = self.span(now)
        start, end = max(start, earliest), min(end, latest)
        return (start, end) if end > start else None

    def units(self, start: float, end: float) -> Iterator[tuple[float, AccessUnit]]:
        """(capture time, access unit) from the keyframe at or before ``start`` (a replay must begin on one,
        but never before the card's earliest picture) up to the last picture before ``end``."""
        fps = self.loop.stream.fps
        n = len(self.loop.units)
        earliest_k = math.ceil(self.span()[0] * fps)
        k = max(math.floor(start * fps), earliest_k)
        first = k
        while k > earliest_k and not self.loop.units[k % n].keyframe and first - k < n:
            k -= 1
        if not self.loop.units[k % n].keyframe:  # no keyframe on the card before start: the next one
            while not self.loop.units[k % n].keyframe:
                k += 1
        while k / fps < end:
            yield k / fps, self.loop.units[k % n]
            k += 1


def iso(unix_time: float) -> str:
    """xs:dateTime in UTC with milliseconds."""
    return dt.datetime.fromtimestamp(unix_time, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_iso(value: str | None) -> float | None:
    """Unix time of an xs:dateTime (UTC when it has no zone); None when absent or unreadable."""
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()
