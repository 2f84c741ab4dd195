"""WebRTC video tracks fed from the camera's one connection (a LiveTap): `CameraTrack` hands the encoded H.264
access units to aiortc as `av.Packet`s, which it packetizes into RTP as they are (no decode, no re-encode);
`TranscodingTrack` decodes them for aiortc to encode as VP8 when passing through is impossible."""

from __future__ import annotations

import asyncio
import collections
import struct
from fractions import Fraction
from typing import cast

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.video.codeccontext import VideoCodecContext

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

    async def _next(self) -> tuple[bytes, int]:
        """The next access unit (Annex-B with parameter sets before keyframes, or a JPEG) and its presentation
        time in µs. Raises MediaStreamError once the track is stopped or the tap ends."""
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
        return message[_HEADER.size:], pts

    async def recv(self) -> av.Packet:  # type: ignore[type-arg]  # aiortc takes a Packet for encoded media
        """The next access unit as a packet, which aiortc packetizes as it is."""
        data, pts = await self._next()
        packet = av.Packet(data)
        packet.pts = packet.dts = pts
        packet.time_base = MICROSECONDS
        self.frames_sent += 1
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            self._tap.unsubscribe(self._viewer)
        super().stop()


class TranscodingTrack(CameraTrack):
    """The fallback for a browser without H.264 or a camera that streams H.265 or MJPEG: the access units are
    decoded here (in a worker thread) and aiortc encodes the pictures again (VP8). Costs a decoder and an
    encoder per viewer, so the sessions service allows only a few."""

    def __init__(self, tap: LiveTap, codec: str) -> None:
        super().__init__(tap)
        self._decoder = cast(VideoCodecContext, av.CodecContext.create(codec, "r"))

    async def recv(self) -> av.VideoFrame:  # type: ignore[override]  # a decoded picture for aiortc to encode
        """The next decoded picture, stamped with its access unit's presentation time."""
        while True:
            data, pts = await self._next()
            try:
                frames = await asyncio.to_thread(self._decoder.decode, av.Packet(data))
            except av.error.FFmpegError:  # a damaged access unit: the next keyframe repairs the picture
                continue
            if frames:
                frame: av.VideoFrame = frames[-1]
                frame.pts = pts
                frame.time_base = MICROSECONDS
                self.frames_sent += 1
                return frame
