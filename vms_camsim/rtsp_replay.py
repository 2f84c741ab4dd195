"""RTSP replay of the edge card (ONVIF Streaming Specification, "RTSP replay"; Profile G).

``rtsp://host:port/<camera>/replay`` (the URI GetReplayUri answers) plays a past range of the card:

- ``Range: clock=20261128T044000Z-20261128T044200Z`` picks the range (absolute UTC, as ONVIF requires);
  without it the whole card plays;
- ``Rate-Control: no`` sends as fast as the client reads (how a VMS backfills a gap: minutes in seconds);
  ``yes`` (the default) paces at ``Scale`` times real time (``Scale: 4.0``; backwards is not supported);
- ``Require: onvif-replay`` is accepted; every picture's first packet carries the ONVIF replay header
  extension (0xABAC): its NTP capture time, C (clean point: a keyframe), E (the last picture of the range)
  and D (the first one after PLAY) bits and the low byte of the PLAY request's CSeq.

Media goes over the RTSP connection only (RTP/AVP/TCP interleaved), which ONVIF replay mandates. At the end
of the range an RTCP BYE tells the client that nothing more comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import secrets
import struct
import time

from vms_camsim.config import Codec
from vms_camsim.edge_card import EdgeCard
from vms_camsim.rtp import ntp_timestamp, packetize_h264, packetize_h265, packetize_jpeg, payload_type
from vms_camsim.rtsp_proto import RtspError, TransportSpec

log = logging.getLogger(__name__)

CLOCK_RATE = 90_000
_EXTENSION_ID = 0xABAC
_CLOCK = re.compile(r"(\d{8}T\d{6}(?:\.\d{1,6})?)Z", re.ASCII)
_MAX_SCALE = 64.0


def parse_clock_range(value: str | None) -> tuple[float | None, float | None]:
    """(start, end) Unix times of ``clock=<start>-[<end>]``; (None, None) without a header. Raises RtspError
    457 for another kind of range or a malformed one."""
    if value is None or not value.strip():
        return None, None
    value = value.strip()
    if not value.startswith("clock="):
        raise RtspError(457, "replay takes an absolute range: Range: clock=<start>-<end>")
    start_text, sep, end_text = value[len("clock="):].partition("-")
    start, end = _clock(start_text), _clock(end_text) if end_text.strip() else None
    if not sep or start is None or (end_text.strip() and end is None) or (end is not None and end <= start):
        raise RtspError(457, f"bad clock range {value!r}")
    return start, end


def _clock(text: str) -> float | None:
    match = _CLOCK.fullmatch(text.strip())
    if match is None:
        return None
    body = match.group(1)
    fmt = "%Y%m%dT%H%M%S.%f" if "." in body else "%Y%m%dT%H%M%S"
    try:
        return dt.datetime.strptime(body, fmt).replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        return None


def clock_text(unix_time: float) -> str:
    """``YYYYMMDDThhmmss.mmmZ``, the clock format of RTSP ranges."""
    return dt.datetime.fromtimestamp(unix_time, dt.UTC).strftime("%Y%m%dT%H%M%S.%f")[:-3] + "Z"


class ReplaySession:
    """One SETUP of ``<camera>/replay``: plays ranges of the card on the connection that set it up."""

    def __init__(self, card: EdgeCard, codec: Codec, spec: TransportSpec, writer: asyncio.StreamWriter) -> None:
        if not spec.tcp:
            raise RtspError(461, "replay is sent over the RTSP connection only (RTP/AVP/TCP)")
        self.id = secrets.token_hex(8)
        self.card, self.codec, self.spec, self.writer = card, codec, spec, writer
        self.ssrc = secrets.randbits(32)
        self.seq = secrets.randbits(16)
        self.ts_base = secrets.randbits(32)
        self.frames_sent = 0
        self._task: asyncio.Task[None] | None = None

    def rtp_time(self, unix_time: float) -> int:
        """RTP timestamp of a capture instant (90 kHz, on the session's random base)."""
        return (self.ts_base + round(unix_time * CLOCK_RATE)) & 0xFFFFFFFF

    def play(self, headers: dict[str, str], cseq: str | None) -> dict[str, str]:
        """Start playing the requested range; returns the PLAY response headers. Raises RtspError."""
        start, end = parse_clock_range(headers.get("range"))
        earliest, latest = self.card.span()
        wanted = self.card.clip(earliest if start is None else start, latest if end is None else end)
        if wanted is None:
            raise RtspError(457, "the card holds nothing of that range")
        scale = _scale(headers.get("scale"))
        paced = headers.get("rate-control", "yes").strip().lower() != "no"
        self.close()
        cseq_byte = int(cseq) & 0xFF if cseq and cseq.isascii() and cseq.isdigit() else 0
        self._task = asyncio.get_running_loop().create_task(
            self._send(wanted[0], wanted[1], scale if paced else None, cseq_byte), name=f"replay-{self.id}")
        info = f"seq={self.seq};rtptime={self.rtp_time(wanted[0])}"
        return {"Range": f"clock={clock_text(wanted[0])}-{clock_text(wanted[1])}", "Scale": f"{scale:g}",
                "Rate-Control": "yes" if paced else "no", "RTP-Info": info}

    async def _send(self, start: float, end: float, scale: float | None, cseq: int) -> None:
        began = time.monotonic()
        first: float | None = None
        units = list(self.card.units(start, end))
        try:
            for index, (capture, unit) in enumerate(units):
                first = capture if first is None else first
                if scale is not None:
                    delay = (capture - first) / scale - (time.monotonic() - began)
                    if delay > 0:
                        await asyncio.sleep(delay)
                flags = (0x80 if unit.keyframe else 0) | (0x40 if index == len(units) - 1 else 0) \
                    | (0x20 if index == 0 else 0)
                self.writer.write(self._packets(unit.nals, capture, flags, cseq))
                self.frames_sent += 1
                await self.writer.drain()
            bye = struct.pack(">BBHI", 0x81, 203, 1, self.ssrc)
            self.writer.write(bytes((0x24, self.spec.channel + 1)) + len(bye).to_bytes(2, "big") + bye)
            await self.writer.drain()
            log.info("replayed %d pictures of %s (%.1f s of footage)", len(units), self.card.token, end - start)
        except (ConnectionError, RuntimeError):
            log.info("replay client of %s went away", self.card.token)

    def _packets(self, nals: tuple[bytes, ...], capture: float, flags: int, cseq: int) -> bytes:
        if self.codec is Codec.MJPEG:
            payloads = packetize_jpeg(nals[0])
        else:
            cut = packetize_h265 if self.codec is Codec.H265 else packetize_h264
            payloads = [p for nal in nals for p in cut(nal)]
        pt = payload_type(self.codec)
        timestamp = self.rtp_time(capture)
        ntp_s, ntp_f = ntp_timestamp(capture)
        extension = struct.pack(">HHIIBBH", _EXTENSION_ID, 3, ntp_s, ntp_f, flags, cseq, 0)
        out = bytearray()
        for index, payload in enumerate(payloads):
            marker = 0x80 if index == len(payloads) - 1 else 0
            ext = extension if index == 0 else b""
            header = struct.pack(">BBHII", 0x90 if ext else 0x80, marker | pt, self.seq, timestamp, self.ssrc)
            self.seq = (self.seq + 1) & 0xFFFF
            packet = header + ext + payload
            out += bytes((0x24, self.spec.channel)) + len(packet).to_bytes(2, "big") + packet
        return bytes(out)

    def pause(self) -> None:
        """Stop sending (a later PLAY starts its own range)."""
        self.close()

    def close(self) -> None:
        """Stop the replay task, if one runs."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None


def _scale(value: str | None) -> float:
    if value is None or not value.strip():
        return 1.0
    with contextlib.suppress(ValueError):
        scale = float(value.strip())
        if 0 < scale <= _MAX_SCALE:
            return scale
    raise RtspError(457, f"Scale must be in (0, {_MAX_SCALE:g}]: {value!r} (no reverse replay)")
