"""RTP packetisation done once per access unit, and RTCP sender reports.

The hot path of a simulator with hundreds of sessions is copying frames to sockets. Payloads are
cut once per pre-encoded access unit into a single template buffer laid out as RTSP interleaved
packets (``$`` channel length | 12-byte RTP header | payload). A session copies the template,
patches the 16 header bytes of each packet (channel, length, marker, seq, timestamp, SSRC) with
one ``struct.pack_into`` call, and hands the whole frame to the socket in one write. UDP sessions
send slices of the same buffer, skipping the 4-byte interleave prefix.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

from vms_camsim.config import Codec
from vms_camsim.encoder import AccessUnit
from vms_camsim.errors import EncodeError

MAX_PAYLOAD = 1400
NTP_EPOCH_OFFSET = 2_208_988_800
_HEADER = struct.Struct(">BBHBBHII")  # '$', channel, length, V/P/X/CC, M/PT, seq, ts, ssrc
HEADER_SIZE = _HEADER.size  # 16 = 4 interleave + 12 RTP


def payload_type(codec: Codec) -> int:
    """Static PT 26 for JPEG (RFC 3551), dynamic 96 for H.264/H.265."""
    return 26 if codec is Codec.MJPEG else 96


def packetize_h264(nal: bytes, limit: int = MAX_PAYLOAD) -> list[bytes]:
    """RFC 6184: a single NAL unit packet, or FU-A fragments when the NAL is too big."""
    if len(nal) <= limit:
        return [nal]
    indicator = (nal[0] & 0xE0) | 28
    kind = nal[0] & 0x1F
    body, out, pos = nal[1:], [], 0
    step = limit - 2
    while pos < len(body):
        chunk = body[pos : pos + step]
        start = 0x80 if pos == 0 else 0
        end = 0x40 if pos + step >= len(body) else 0
        out.append(bytes((indicator, start | end | kind)) + chunk)
        pos += step
    return out


def packetize_h265(nal: bytes, limit: int = MAX_PAYLOAD) -> list[bytes]:
    """RFC 7798: a single NAL unit packet, or fragmentation units (type 49) when too big."""
    if len(nal) <= limit:
        return [nal]
    kind = (nal[0] >> 1) & 0x3F
    header = bytes(((nal[0] & 0x81) | (49 << 1), nal[1]))
    body, out, pos = nal[2:], [], 0
    step = limit - 3
    while pos < len(body):
        chunk = body[pos : pos + step]
        start = 0x80 if pos == 0 else 0
        end = 0x40 if pos + step >= len(body) else 0
        out.append(header + bytes((start | end | kind,)) + chunk)
        pos += step
    return out


@dataclass(frozen=True, slots=True)
class JpegInfo:
    """What RFC 2435 needs from a baseline JPEG: type, size, quantisation tables and scan data."""

    rtp_type: int
    width: int
    height: int
    qtables: bytes
    scan: bytes


def parse_jpeg(data: bytes) -> JpegInfo:
    """Split a baseline JPEG into the pieces RFC 2435 carries. Raises EncodeError otherwise."""
    if data[:2] != b"\xff\xd8":
        raise EncodeError("not a JPEG image")
    pos, tables, width, height, rtp_type = 2, {}, 0, 0, -1
    while pos + 4 <= len(data):
        marker, length = data[pos + 1], struct.unpack_from(">H", data, pos + 2)[0]
        segment = data[pos + 4 : pos + 2 + length]
        if marker == 0xDB:
            i = 0
            while i + 65 <= len(segment):
                if segment[i] >> 4:
                    raise EncodeError("16-bit quantisation tables are not supported")
                tables[segment[i] & 0x0F] = segment[i + 1 : i + 65]
                i += 65
        elif marker == 0xC0:
            height, width = struct.unpack_from(">HH", segment, 1)
            luma = segment[7]
            rtp_type = {0x21: 0, 0x22: 1}.get(luma, -1)
        elif marker in (0xC1, 0xC2, 0xC3):
            raise EncodeError("only baseline JPEG can be sent over RTP")
        elif marker == 0xDD and struct.unpack_from(">H", segment)[0]:
            raise EncodeError("restart markers are not supported")
        elif marker == 0xDA:
            scan = data[pos + 2 + length :]
            if scan.endswith(b"\xff\xd9"):
                scan = scan[:-2]
            if rtp_type < 0 or len(tables) < 2:
                raise EncodeError("JPEG must be YUV 4:2:0 or 4:2:2 with two quantisation tables")
            return JpegInfo(rtp_type, width, height, tables[0] + tables[1], scan)
        pos += 2 + length
    raise EncodeError("JPEG has no scan data")


def packetize_jpeg(data: bytes, limit: int = MAX_PAYLOAD) -> list[bytes]:
    """RFC 2435 with Q=255: quantisation tables travel in-band in the first packet."""
    info = parse_jpeg(data)
    qheader = struct.pack(">BBH", 0, 0, len(info.qtables)) + info.qtables
    out: list[bytes] = []
    pos = 0
    while pos < len(info.scan) or not out:
        extra = qheader if pos == 0 else b""
        room = limit - 8 - len(extra)
        main = struct.pack(">I", pos & 0xFFFFFF) + bytes(
            (info.rtp_type, 255, info.width // 8 & 0xFF, info.height // 8 & 0xFF))
        out.append(main + extra + info.scan[pos : pos + room])
        pos += room
    return out


@dataclass(frozen=True, slots=True)
class PacketTemplate:
    """One access unit cut into RTP packets, laid out as interleaved packets in one buffer."""

    buffer: bytes
    layout: tuple[tuple[int, int, int], ...]  # (offset, rtp length, marker|pt byte)
    keyframe: bool


def build_template(unit: AccessUnit, codec: Codec) -> PacketTemplate:
    """Packetise an access unit once; sessions only patch headers (see module docstring)."""
    if codec is Codec.MJPEG:
        payloads = packetize_jpeg(unit.nals[0])
    else:
        cut = packetize_h265 if codec is Codec.H265 else packetize_h264
        payloads = [p for nal in unit.nals for p in cut(nal)]
    pt = payload_type(codec)
    parts: list[bytes] = []
    layout: list[tuple[int, int, int]] = []
    offset = 0
    for index, payload in enumerate(payloads):
        marker = 0x80 if index == len(payloads) - 1 else 0
        layout.append((offset, 12 + len(payload), marker | pt))
        parts.append(bytes(HEADER_SIZE))
        parts.append(payload)
        offset += HEADER_SIZE + len(payload)
    return PacketTemplate(b"".join(parts), tuple(layout), unit.keyframe)


def stamp_packets(template: PacketTemplate, channel: int, seq: int, timestamp: int, ssrc: int) -> bytearray:
    """A session's copy of the template with its own channel, sequence numbers, timestamp and SSRC."""
    buf = bytearray(template.buffer)
    pack = _HEADER.pack_into
    for offset, length, mpt in template.layout:
        pack(buf, offset, 0x24, channel, length, 0x80, mpt, seq & 0xFFFF, timestamp, ssrc)
        seq += 1
    return buf


def ntp_timestamp(unix_time: float) -> tuple[int, int]:
    """NTP seconds and fraction for a Unix time."""
    seconds = int(unix_time) + NTP_EPOCH_OFFSET
    fraction = int((unix_time % 1.0) * (1 << 32)) & 0xFFFFFFFF
    return seconds & 0xFFFFFFFF, fraction


def sender_report(ssrc: int, unix_time: float, rtp_time: int, *, packets: int, octets: int,
                  cname: str) -> bytes:
    """A compound RTCP packet: SR (wall clock <-> RTP time) followed by SDES CNAME."""
    ntp_s, ntp_f = ntp_timestamp(unix_time)
    sr = struct.pack(">BBHIIIIII", 0x80, 200, 6, ssrc, ntp_s, ntp_f, rtp_time & 0xFFFFFFFF,
                     packets & 0xFFFFFFFF, octets & 0xFFFFFFFF)
    name = cname.encode()[:255]
    item = bytes((1, len(name))) + name + b"\x00"
    item += b"\x00" * (-len(item) % 4)
    sdes = struct.pack(">BBHI", 0x81, 202, (4 + len(item)) // 4, ssrc) + item
    return sr + sdes


def wall_clock() -> float:
    """Unix time used for RTP/NTP stamping (one place to look when debugging clock issues)."""
    return time.time()
