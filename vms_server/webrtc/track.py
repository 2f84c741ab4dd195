"""A WebRTC video track fed from the camera's one connection: the encoded H.264 access units of a LiveTap,
handed to aiortc as `av.Packet`s, which it packetizes into RTP as they are (no decode, no re-encode)."""

from __future__ import annotations

import asyncio
import collections
import struct
from fractions import Fraction

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from vms_server.playback.live import LiveTap, Viewer

_HEADER = struct.Struct(">qB")  # the LiveTap message header: wall clock (µs), flags
MICROSECONDS = Fraction(1, 1_000_000)
BACKLOG_STEP_US = 1000  # the GOP sent on subscribe is stamped 1 ms apart: played at once, not in real time


class CameraTrack(MediaStreamTrack):
    """One viewer of a LiveTap. The tap's current GOP comes first (a keyframe, so the picture starts at once);
    a viewer that falls behind skips to the next keyframe (Viewer), so nobody slows the camera or the others.

    Presentation times come from the capture wall clock, so that the browser's jitter buffer paces the frames
    as the camera took them."""

    kind = "video"

    def __init__(self, tap: LiveTap) -> None:
        super().__init__()
        self._tap = tap
        self._viewer = Viewer(asyncio.get_running_loop())
        self._backlog = collections.deque(tap.subscribe(self._viewer))
        self._origin_us: int | None = None
        if self._backlog:  # the last frame of the GOP lands on its real time: live frames follow on from it
            last_us = _HEADER.unpack_from(self._backlog[-1])[0]
            self._origin_us = last_us - (len(self._backlog) - 1) * BACKLOG_STEP_US
        self._backlog_pts = 0
        self._last_pts = -BACKLOG_STEP_US
        self.frames_sent = 0

    async def recv(self) -> av.Packet:  # type: ignore[type-arg]  # aiortc takes a Packet for encoded media
        """The next access unit (Annex-B, parameter sets before keyframes). Raises MediaStreamError once the
        track is stopped or the tap ends."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._backlog:
            message = self._backlog.popleft()
            pts = self._backlog_pts
            self._backlog_pts += BACKLOG_STEP_US
        else:
            item = await self._viewer.queue.get()
            if item is None:
                self.stop()
                raise MediaStreamError
            message = item
            wall_us = _HEADER.unpack_from(message)[0]
            if self._origin_us is None:
                self._origin_us = wall_us
            # strictly increasing: two frames on one RTP timestamp would be taken for one frame
            pts = max(wall_us - self._origin_us, self._last_pts + BACKLOG_STEP_US)
        self._last_pts = pts
        packet = av.Packet(message[_HEADER.size:])
        packet.pts = packet.dts = pts
        packet.time_base = MICROSECONDS
        self.frames_sent += 1
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            self._tap.unsubscribe(self._viewer)
        super().stop()
