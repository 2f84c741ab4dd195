"""Frame pacing: one timer per encoded loop (or live encoder), fanning frames out to sessions.

Loops are aligned to the wall clock: frame ``k = floor(unix_time * fps)`` of all time shows
picture ``k mod len(loop)``. Every camera sharing a loop therefore shows the same picture at the
same instant, the stamp in the picture tells the capture time, and one timer serves them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import Protocol

from vms_camsim.barcode import Frame
from vms_camsim.config import StreamConfig
from vms_camsim.encoder import AccessUnit, EncodedLoop, FrameEncoder, JpegEncoder, ParameterSets
from vms_camsim.rtp import PacketTemplate, build_template

log = logging.getLogger(__name__)

_MAX_LAG_S = 0.5


class FrameSink(Protocol):
    """Something that takes paced frames (an RTSP session)."""

    def on_frame(self, template: PacketTemplate, capture_time: float) -> None:
        """Send one access unit captured at ``capture_time`` (Unix seconds). Must not block."""


class Feed:
    """Base of loop and live feeds: subscribers, the pacing task and its lifetime."""

    def __init__(self, stream: StreamConfig, params: ParameterSets) -> None:
        self.stream = stream
        self.params = params
        self._sinks: set[FrameSink] = set()
        self._task: asyncio.Task[None] | None = None
        self.frames_sent = 0

    def subscribe(self, sink: FrameSink) -> None:
        """Start delivering frames to ``sink`` (starts the timer on the first subscriber)."""
        self._sinks.add(sink)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"feed-{id(self)}")

    def unsubscribe(self, sink: FrameSink) -> None:
        """Stop delivering to ``sink``; the timer stops when nobody listens."""
        self._sinks.discard(sink)
        if not self._sinks and self._task is not None:
            self._task.cancel()
            self._task = None

    async def close(self) -> None:
        """Stop the timer and forget all subscribers."""
        self._sinks.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _fan_out(self, template: PacketTemplate, capture_time: float) -> None:
        for sink in list(self._sinks):
            try:
                sink.on_frame(template, capture_time)
            except Exception:  # one broken session must not starve the others
                log.exception("sink failed; dropping it")
                self._sinks.discard(sink)
        self.frames_sent += 1

    async def _run(self) -> None:
        fps = self.stream.fps
        k = math.ceil(time.time() * fps)
        while True:
            target = k / fps
            delay = target - time.time()
            if delay > _MAX_LAG_S + 1 / fps:  # the wall clock was stepped back: re-align
                k = math.ceil(time.time() * fps)
                continue
            if delay > 0:
                await asyncio.sleep(delay)
            elif -delay > _MAX_LAG_S:  # the process was starved (or the clock stepped on): skip ahead
                k = math.ceil(time.time() * fps)
                continue
            try:
                template = await self._frame(k, target)
            except Exception:  # a failing live encoder must not kill the timer for good
                log.exception("could not produce frame %d", k)
                template = None
            if template is not None:
                self._fan_out(template, target)
            k += 1

    async def _frame(self, k: int, capture_time: float) -> PacketTemplate | None:
        raise NotImplementedError


class LoopFeed(Feed):
    """Replays a pre-encoded loop; packetisation happens once here, at construction."""

    def __init__(self, loop: EncodedLoop) -> None:
        super().__init__(loop.stream, loop.params)
        self.loop = loop
        self.templates = [build_template(unit, loop.stream.codec) for unit in loop.units]
        self._next_k: int | None = None  # the frame that follows the last one sent

    def index_at(self, unix_time: float) -> int:
        """Which loop picture is on air at ``unix_time`` (the wall-clock alignment of the module doc)."""
        return int(unix_time * self.stream.fps) % len(self.templates)

    async def _frame(self, k: int, capture_time: float) -> PacketTemplate | None:
        """Frame k, or None for a P-frame after skipped frames (a starved process skips ahead): its reference
        pictures never went out, so, like an encoder that dropped pictures, the stream resumes at a keyframe.
        Sending it made every viewer decode smeared pictures until the next keyframe."""
        template = self.templates[k % len(self.templates)]
        if self._next_k is not None and k != self._next_k and not template.keyframe:
            return None
        self._next_k = k + 1
        return template


class LiveFeed(Feed):
    """Encodes every frame as it is sent (PTZ cameras, whose picture depends on commands).

    ``render`` is called in a worker thread with the capture time and returns an RGB frame.
    """

    def __init__(self, stream: StreamConfig, encoder: FrameEncoder | JpegEncoder,
                 render: Callable[[float], Frame]) -> None:
        super().__init__(stream, encoder.params)
        self._encoder = encoder
        self._render = render

    async def _frame(self, k: int, capture_time: float) -> PacketTemplate | None:
        units = await asyncio.to_thread(self._encode_blocking, capture_time)
        return build_template(units[0], self.stream.codec) if units else None

    def _encode_blocking(self, capture_time: float) -> list[AccessUnit]:
        return self._encoder.encode_blocking(self._render(capture_time))
