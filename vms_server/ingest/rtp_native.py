"""RTP over the RTSP connection into access units: the interleaved framing ('$', channel, length), RFC 6184
(H.264: single NAL, STAP-A, FU-A) and RFC 7798 (H.265: single NAL, AP, FU) depacketisation, and the wall clock
from RTCP sender reports.

An access unit comes out in Annex B (each NAL after a 00 00 00 01 start code), the form FFmpeg's own RTSP
demuxer gives, so the fMP4 muxer and every consumer treat both readers' packets alike. A unit with a hole in
its sequence numbers is dropped (a decoder would smear it); the next keyframe starts clean again.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

START = b"\x00\x00\x00\x01"
NTP_UNIX_OFFSET = 2_208_988_800
_RTP = struct.Struct(">BBHII")  # V/P/X/CC, M/PT, sequence, timestamp, SSRC
_SR = struct.Struct(">IIII")  # SSRC, NTP seconds, NTP fraction, RTP timestamp
_H264_IDR = 5
_H265_IRAP = range(16, 22)
_TOO_BIG = 8_000_000  # an access unit larger than any camera sends: a parsing error


class ProtocolError(Exception):
    """The byte stream cannot be parsed as RTSP interleaved data."""


@dataclass(frozen=True)
class AccessUnit:
    data: bytes
    timestamp: int  # RTP timestamp, unwrapped (64-bit, rising across the 32-bit wrap)
    keyframe: bool
    wall_us: int | None  # from the latest RTCP sender report, None before the first


class Depacketizer:
    """One video track's RTP packets in, whole access units out (`emit`)."""

    def __init__(self, codec: str, payload_type: int, clock_rate: int, emit: Callable[[AccessUnit], None]) -> None:
        self.codec, self.payload_type, self.clock_rate, self.emit = codec, payload_type, clock_rate, emit
        self._hevc = codec == "hevc"
        self._parts: list[bytes] = []
        self._size = 0
        self._key = False
        self._broken = False
        self._ts: int | None = None
        self._seq: int | None = None
        self._fragment = False
        self._last_raw: int | None = None  # unwrapping: the newest raw timestamp and its 64-bit value
        self._last_ext = 0
        self._await_key = False  # after a damaged unit, units are dropped until the next keyframe
        self._sr: tuple[int, int] | None = None  # (unwrapped RTP timestamp, Unix microseconds) of the last SR
        self.dropped_units = 0

    def rtp(self, packet: memoryview) -> None:
        if len(packet) < 12:
            return
        first, second, seq, raw_ts, _ssrc = _RTP.unpack_from(packet)
        if first >> 6 != 2 or (second & 0x7F) != self.payload_type:
            return
        offset = 12 + 4 * (first & 0x0F)
        if first & 0x10:  # header extension
            if len(packet) < offset + 4:
                return
            offset += 4 + 4 * int.from_bytes(packet[offset + 2 : offset + 4], "big")
        end = len(packet)
        if first & 0x20 and end > offset:  # padding
            end -= packet[end - 1]
        if end <= offset:
            return
        ts = self._unwrap(raw_ts)
        if self._seq is not None and seq != (self._seq + 1) & 0xFFFF:
            self._broken = True  # a hole: the unit in progress (and this one, if it continues it) is damaged
        self._seq = seq
        if self._ts is not None and ts != self._ts and self._parts:
            self._flush()  # a new timestamp without the marker bit on the last one: the unit ended anyway
        self._ts = ts
        self._payload(packet[offset:end])
        if second & 0x80:
            self._flush()

    def sender_report(self, packet: memoryview) -> None:
        """RTCP compound packet: remember the NTP time of the SR's RTP timestamp."""
        pos = 0
        while pos + 4 <= len(packet):
            kind = packet[pos + 1]
            length = (int.from_bytes(packet[pos + 2 : pos + 4], "big") + 1) * 4
            if kind == 200 and pos + 4 + _SR.size <= len(packet):
                _ssrc, seconds, fraction, rtp_ts = _SR.unpack_from(packet, pos + 4)
                if seconds > NTP_UNIX_OFFSET:
                    unix_us = (seconds - NTP_UNIX_OFFSET) * 1_000_000 + (fraction * 1_000_000 >> 32)
                    self._sr = (self._unwrap(rtp_ts, peek=True), unix_us)
            pos += max(length, 4)

    def _unwrap(self, raw: int, peek: bool = False) -> int:
        """The 32-bit RTP timestamp as a rising 64-bit one (a step over half the range counts as backwards)."""
        if self._last_raw is None:
            if not peek:
                self._last_raw, self._last_ext = raw, raw
            return raw
        delta = (raw - self._last_raw) & 0xFFFF_FFFF
        if delta >= 0x8000_0000:
            delta -= 1 << 32
        value = self._last_ext + delta
        if not peek and delta > 0:
            self._last_raw, self._last_ext = raw, value
        return value

    def _payload(self, data: memoryview) -> None:
        if self._hevc:
            self._payload_hevc(data)
        else:
            self._payload_h264(data)

    def _payload_h264(self, data: memoryview) -> None:
        kind = data[0] & 0x1F
        if 1 <= kind <= 23:
            self._nal(data, kind == _H264_IDR)
        elif kind == 24:  # STAP-A: 16-bit size, NAL, ...
            pos = 1
            while pos + 2 <= len(data):
                size = int.from_bytes(data[pos : pos + 2], "big")
                nal = data[pos + 2 : pos + 2 + size]
                if size and len(nal) == size:
                    self._nal(nal, nal[0] & 0x1F == _H264_IDR)
                pos += 2 + size
        elif kind == 28 and len(data) > 2:  # FU-A
            header = data[1]
            nal_kind = header & 0x1F
            if header & 0x80:
                self._fragment = True
                self._add(START)
                self._add(bytes(((data[0] & 0xE0) | nal_kind,)))
                self._key = self._key or nal_kind == _H264_IDR
            elif not self._fragment:
                self._broken = True  # a middle or end without its start
                return
            self._add(data[2:])
            if header & 0x40:
                self._fragment = False

    def _payload_hevc(self, data: memoryview) -> None:
        if len(data) < 3:
            return
        kind = (data[0] >> 1) & 0x3F
        if kind < 48:
            self._nal(data, kind in _H265_IRAP)
        elif kind == 48:  # aggregation packet
            pos = 2
            while pos + 2 <= len(data):
                size = int.from_bytes(data[pos : pos + 2], "big")
                nal = data[pos + 2 : pos + 2 + size]
                if size and len(nal) == size:
                    self._nal(nal, (nal[0] >> 1) & 0x3F in _H265_IRAP)
                pos += 2 + size
        elif kind == 49:  # fragmentation unit
            header = data[2]
            nal_kind = header & 0x3F
            if header & 0x80:
                self._fragment = True
                self._add(START)
                self._add(bytes(((data[0] & 0x81) | (nal_kind << 1), data[1])))
                self._key = self._key or nal_kind in _H265_IRAP
            elif not self._fragment:
                self._broken = True
                return
            self._add(data[3:])
            if header & 0x40:
                self._fragment = False

    def _nal(self, nal: memoryview, key: bool) -> None:
        self._add(START)
        self._add(nal)
        self._key = self._key or key

    def _add(self, part: bytes | memoryview) -> None:
        # A copy: the reader's buffer these views point into is compacted after every read.
        self._parts.append(bytes(part))
        self._size += len(part)
        if self._size > _TOO_BIG:
            raise ProtocolError("an access unit larger than 8 MB")

    def _flush(self) -> None:
        parts, size, key, broken, ts = self._parts, self._size, self._key, self._broken, self._ts
        self._parts, self._size, self._key, self._broken, self._fragment = [], 0, False, False, False
        if not parts or ts is None:
            return
        if broken or size == 0 or (self._await_key and not key):
            self.dropped_units += 1
            self._await_key = True  # what follows refers to what was lost: wait for a picture that does not
            return
        self._await_key = False
        wall = None
        if self._sr is not None:
            sr_ts, sr_us = self._sr
            wall = sr_us + (ts - sr_ts) * 1_000_000 // self.clock_rate
        self.emit(AccessUnit(b"".join(parts), ts, key, wall))


class InterleavedReader:
    """Splits what the RTSP connection carries after PLAY: interleaved packets of the video channel (RTP) and
    its RTCP channel, and RTSP answers (to keep-alives), which are skipped."""

    def __init__(self, depacketizer: Depacketizer, channel: int = 0) -> None:
        self.depacketizer, self.channel = depacketizer, channel
        self._buf = bytearray()
        self.answers = 0  # RTSP answers skipped (to keep-alives)

    def feed(self, data: bytes | memoryview) -> None:
        buf = self._buf
        buf += data
        view = memoryview(buf)
        pos, size = 0, len(buf)
        try:
            while pos + 4 <= size:
                if buf[pos] == 0x24:  # '$'
                    length = (buf[pos + 2] << 8) | buf[pos + 3]
                    if pos + 4 + length > size:
                        break
                    channel = buf[pos + 1]
                    if channel == self.channel:
                        self.depacketizer.rtp(view[pos + 4 : pos + 4 + length])
                    elif channel == self.channel + 1:
                        self.depacketizer.sender_report(view[pos + 4 : pos + 4 + length])
                    pos += 4 + length
                elif buf.startswith(b"RTSP/", pos):
                    end = buf.find(b"\r\n\r\n", pos)
                    if end < 0:
                        if size - pos > 65_536:
                            raise ProtocolError("an RTSP answer without an end")
                        break
                    after = end + 4 + _content_length(bytes(buf[pos:end]))
                    if after > size:  # its body has not all arrived: parse the answer again next time
                        break
                    pos = after
                    self.answers += 1
                else:
                    raise ProtocolError("the camera sent data that cannot be parsed")
        finally:
            view.release()
        del buf[:pos]


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            try:
                return int(value.strip())
            except ValueError:
                return 0
    return 0
