"""Pulling a range of a camera's own recording over RTSP (ONVIF replay) and writing it as segment files.

Ingest's FFmpeg RTSP client cannot ask for an absolute range (``Range: clock=...``) nor say
``Rate-Control: no``, which is what lets a camera send ten minutes of its card in seconds, so replay has its
own small client: DESCRIBE / SETUP (TCP interleaved) / PLAY on the diagnostics RTSP connection, then RTP is
read off the connection and cut into pictures (H.264 FU-A/STAP-A, H.265 FU/AP). Each picture's capture time
comes from the ONVIF replay header extension (an NTP time) when the camera sends it, else from the RTP
timestamp relative to the range start. An RTCP BYE, the connection closing, or a picture past the range ends
the replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import os
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from vms_server.cameras.rtsp_client import RtspConnection
from vms_server.recording.segments import FMP4_OPTIONS, PART_SUFFIX, SegmentResult, segment_relpath

_NTP_OFFSET = 2_208_988_800
_START = b"\x00\x00\x00\x01"
_MAX_PACKET = 65_535


class ReplayError(Exception):
    """The camera refused the replay or sent something that is not one."""


@dataclass
class Picture:
    """One access unit (Annex B) and its capture time."""

    at_us: int
    data: bytes
    keyframe: bool


@dataclass
class _Depacketizer:
    hevc: bool
    nals: list[bytes]
    fragment: bytearray

    def add(self, payload: bytes) -> None:
        """Collect the NAL units of one RTP payload (fragments joined when their last piece arrives)."""
        if not payload:
            return
        kind = (payload[0] >> 1) & 0x3F if self.hevc else payload[0] & 0x1F
        if (self.hevc and kind == 49) or (not self.hevc and kind == 28):
            head = 3 if self.hevc else 2
            if len(payload) <= head:
                return
            fu = payload[head - 1]
            if fu & 0x80:
                if self.hevc:
                    header = bytes(((payload[0] & 0x81) | ((fu & 0x3F) << 1), payload[1]))
                else:
                    header = bytes(((payload[0] & 0xE0) | (fu & 0x1F),))
                self.fragment = bytearray(header)
            self.fragment += payload[head:]
            if fu & 0x40 and self.fragment:
                self.nals.append(bytes(self.fragment))
                self.fragment = bytearray()
        elif (self.hevc and kind == 48) or (not self.hevc and kind == 24):
            pos = 2 if self.hevc else 1
            while pos + 2 <= len(payload):
                size = struct.unpack_from(">H", payload, pos)[0]
                self.nals.append(payload[pos + 2 : pos + 2 + size])
                pos += 2 + size
        else:
            self.nals.append(payload)

    def picture(self, at_us: int) -> Picture | None:
        nals, self.nals = self.nals, []
        if not nals:
            return None
        types = {((n[0] >> 1) & 0x3F) if self.hevc else n[0] & 0x1F for n in nals if n}
        key = bool(types & ({19, 20, 21} if self.hevc else {5}))
        return Picture(at_us, b"".join(_START + n for n in nals), key)


def _codec_of(sdp: str) -> str:
    for line in sdp.splitlines():
        if line.startswith("a=rtpmap:"):
            name = line.split(" ", 1)[-1].split("/", 1)[0].upper()
            if name in ("H264", "H265"):
                return "h264" if name == "H264" else "hevc"
            raise ReplayError(f"replay of {name} is not supported (H.264 and H.265 are)")
    raise ReplayError("the replay's SDP names no video codec")


def clock(us: int) -> str:
    """RTSP absolute time (``YYYYMMDDThhmmss.mmmZ``) of Unix microseconds."""
    when = dt.datetime.fromtimestamp(us / 1e6, dt.UTC)
    return when.strftime("%Y%m%dT%H%M%S.") + f"{when.microsecond // 1000:03d}Z"


async def replay(url: str, creds: tuple[str | None, str | None], start_us: int, end_us: int,
                 timeout_s: float = 20.0) -> AsyncIterator[tuple[str, Picture]]:
    """(codec, picture) of ``[start_us, end_us)`` as the camera replays it, as fast as it sends. Raises
    ReplayError on a refusal, OSError/TimeoutError on a network failure."""
    host_port = url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, port = host_port.rpartition(":")
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host or host_port, int(port or 554)), timeout_s)
    conn = RtspConnection(reader, writer)
    try:
        status, headers, _ = await asyncio.wait_for(conn.send("DESCRIBE", url, creds), timeout_s)
        if status != 200:
            raise ReplayError(f"DESCRIBE {status}")
        codec = _codec_of(conn.body)
        base = headers.get("content-base", url.rstrip("/") + "/")
        track = base.rstrip("/") + "/trackID=0"
        status, headers, _ = await asyncio.wait_for(conn.send(
            "SETUP", track, creds, extra=("Transport: RTP/AVP/TCP;unicast;interleaved=0-1",
                                          "Require: onvif-replay")), timeout_s)
        if status != 200:
            raise ReplayError(f"SETUP {status}")
        session = headers.get("session", "").split(";")[0]
        status, headers, _ = await asyncio.wait_for(conn.send(
            "PLAY", base, creds, extra=(f"Session: {session}", f"Range: clock={clock(start_us)}-{clock(end_us)}",
                                        "Rate-Control: no", "Require: onvif-replay")), timeout_s)
        if status != 200:
            raise ReplayError(f"PLAY {status} (the camera may not hold that range)")
        async for picture in _pictures(reader, codec == "hevc", start_us, timeout_s):
            if picture.at_us >= end_us:
                break
            yield codec, picture
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _pictures(reader: asyncio.StreamReader, hevc: bool, start_us: int,
                    timeout_s: float) -> AsyncIterator[Picture]:
    depack = _Depacketizer(hevc, [], bytearray())
    current_ts: int | None = None
    first_ts: int | None = None
    at_us = start_us
    while True:
        try:
            head = await asyncio.wait_for(reader.readexactly(4), timeout_s)
        except asyncio.IncompleteReadError:
            break
        if head[0] != 0x24:
            raise ReplayError("expected interleaved RTP after PLAY")
        packet = await reader.readexactly(int.from_bytes(head[2:4], "big"))
        if head[1] % 2:  # RTCP: a BYE ends the replay
            if _has_bye(packet):
                break
            continue
        if len(packet) < 12:
            continue
        ts, pos, ntp_us = _rtp_header(packet)
        if current_ts is not None and ts != current_ts:
            picture = depack.picture(at_us)
            if picture is not None:
                yield picture
        if ts != current_ts:
            first_ts = ts if first_ts is None else first_ts
            at_us = ntp_us if ntp_us is not None else start_us + ((ts - first_ts) & 0xFFFFFFFF) * 100 // 9
        current_ts = ts
        depack.add(packet[pos:])
        if packet[1] & 0x80:  # marker: the picture is complete
            picture = depack.picture(at_us)
            current_ts = None
            if picture is not None:
                yield picture
    picture = depack.picture(at_us)
    if picture is not None:
        yield picture


def _rtp_header(packet: bytes) -> tuple[int, int, int | None]:
    """(RTP timestamp, payload offset, capture time in Unix µs from the ONVIF replay extension or None)."""
    ts = struct.unpack_from(">I", packet, 4)[0]
    pos = 12 + 4 * (packet[0] & 0x0F)
    ntp_us = None
    if packet[0] & 0x10 and len(packet) >= pos + 4:
        ext_id, words = struct.unpack_from(">HH", packet, pos)
        if ext_id == 0xABAC and words >= 2 and len(packet) >= pos + 12:
            seconds, fraction = struct.unpack_from(">II", packet, pos + 4)
            ntp_us = (seconds - _NTP_OFFSET) * 1_000_000 + (fraction * 1_000_000 >> 32)
        pos += 4 + 4 * words
    return ts, pos, ntp_us


def _has_bye(packet: bytes) -> bool:
    pos = 0
    while pos + 4 <= len(packet):
        if packet[pos + 1] == 203:
            return True
        pos += 4 * (struct.unpack_from(">H", packet, pos + 2)[0] + 1)
    return False


def write_segment_blocking(volume: Path, camera_id: str, codec: str, pictures: list[Picture],
                           frame_us: int) -> SegmentResult | None:
    """Mux pictures (starting with a keyframe) into a fragmented MP4 under ``volume``, named like the
    recorder's segments (so start-up recovery can index it if the row is lost). None when nothing decodable."""
    while pictures and not pictures[0].keyframe:
        pictures = pictures[1:]
    if not pictures:
        return None
    relpath = segment_relpath(camera_id, "main", pictures[0].at_us)
    final = volume / relpath
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.with_name(final.name + PART_SUFFIX)
    tb = Fraction(1, 90_000)
    frames = 0
    source: Any = av.open(io.BytesIO(b"".join(p.data for p in pictures)), format=codec)
    with source:
        stream = source.streams.video[0]
        out: Any = av.open(str(temp), "w", format="mp4", options=FMP4_OPTIONS)
        try:
            target = out.add_stream_from_template(stream)
            target.time_base = tb
            last = -1
            for packet in source.demux(stream):
                if packet.size == 0 or frames >= len(pictures):
                    continue
                when = (pictures[frames].at_us - pictures[0].at_us) * 9 // 100
                when = max(when, last + 1)
                last = when
                packet.stream, packet.time_base = target, tb
                packet.pts = packet.dts = when
                packet.duration = frame_us * 9 // 100
                out.mux(packet)
                frames += 1
            width, height = stream.codec_context.width or 0, stream.codec_context.height or 0
        finally:
            out.close()
    if frames == 0:
        temp.unlink(missing_ok=True)
        return None
    with temp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(temp, final)
    end_us = pictures[frames - 1].at_us + frame_us
    return SegmentResult(camera_id=camera_id, stream="main", volume=str(volume), path=relpath,
                         start_us=pictures[0].at_us, end_us=end_us, frames=frames, bytes=final.stat().st_size,
                         codec="hevc" if codec == "hevc" else "h264", width=width, height=height, reason="edge")
