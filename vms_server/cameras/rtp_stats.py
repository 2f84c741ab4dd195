"""Packet loss and jitter of one RTSP stream, read over TCP-interleaved RTP (RFC 2326 §10.12) or over UDP.

FFmpeg hides RTP sequence numbers and arrival times, so the diagnostics play the stream themselves for a few
seconds. Over TCP the network cannot lose a packet, so sequence gaps are packets the camera never sent (an
overloaded encoder, or a sender that drops when its buffer fills). Over UDP (asked for, since NAT and firewalls
often block it) gaps are the network's loss as well: the receiver statistics an RTCP receiver report carries
(RFC 3550 §6.4.2), measured rather than sent. Interarrival jitter (RFC 3550 §6.4.1) shows a congested path or a
camera sending in bursts; the camera's RTCP sender reports give its clock offset (a camera without NTP stamps
footage at the wrong time).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from vms_server.cameras.rtsp_client import RtspConnection

NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900 (NTP) to 1970 (Unix)


class RtpStats(BaseModel):
    packets: int = 0
    lost: int = Field(0, description="Sequence numbers never received (over TCP: never sent by the camera)")
    loss_pct: float = 0.0
    jitter_ms: float | None = Field(None, description="RFC 3550 interarrival jitter at the end of the sample")
    clock_offset_ms: float | None = Field(None, description="Camera clock minus server clock, from the wall clock "
                                                            "of its last RTCP sender report (positive: camera ahead)")
    error: str | None = None


def _track_url(base: str, sdp: str) -> tuple[str, int]:
    """The video track's control URL and RTP clock rate, from the SDP of a DESCRIBE."""
    video = sdp.split("m=video", 1)
    if len(video) < 2:
        raise ValueError("the SDP has no video track")
    control = re.search(r"a=control:(\S+)", video[1])
    rate = re.search(r"a=rtpmap:\d+ [^/\s]+/(\d+)", video[1])
    clock = int(rate.group(1)) if rate else 90_000
    if control is None or control.group(1) == "*":
        return base, clock
    if control.group(1).startswith("rtsp"):
        return control.group(1), clock
    return base.rstrip("/") + "/" + control.group(1), clock


class _Counter:
    def __init__(self, clock: int) -> None:
        self.clock, self.packets, self.first, self.highest = clock, 0, -1, -1
        self.cycles, self.last_seq = 0, -1
        self.jitter = 0.0
        self.prev: tuple[float, int] | None = None
        self.clock_offset_s: float | None = None

    def add_rtcp(self, data: bytes, now: float) -> None:
        """Note the camera's wall clock from a sender report (the first packet of a compound RTCP packet)."""
        if len(data) >= 16 and data[1] == 200:
            ntp_s, ntp_f = int.from_bytes(data[8:12], "big"), int.from_bytes(data[12:16], "big")
            self.clock_offset_s = ntp_s - NTP_EPOCH_OFFSET + ntp_f / (1 << 32) - now

    def add(self, seq: int, timestamp: int, arrival: float) -> None:
        if self.last_seq >= 0 and seq < self.last_seq and self.last_seq - seq > 30_000:
            self.cycles += 1 << 16  # the 16-bit sequence number wrapped
        self.last_seq = seq
        extended = self.cycles + seq
        self.first = extended if self.first < 0 else min(self.first, extended)
        self.highest = max(self.highest, extended)
        self.packets += 1
        if self.prev is not None:
            ticks = (timestamp - self.prev[1] + (1 << 31)) % (1 << 32) - (1 << 31)  # signed, across a wrap
            difference = (arrival - self.prev[0]) * self.clock - ticks
            self.jitter += (abs(difference) - self.jitter) / 16
        self.prev = (arrival, timestamp)

    def stats(self) -> RtpStats:
        expected = self.highest - self.first + 1 if self.packets else 0
        lost = max(0, expected - self.packets)
        return RtpStats(packets=self.packets, lost=lost, loss_pct=round(100 * lost / expected, 2) if expected else 0.0,
                        jitter_ms=round(self.jitter / self.clock * 1000, 2) if self.packets > 1 else None,
                        clock_offset_ms=round(self.clock_offset_s * 1000, 1)
                        if self.clock_offset_s is not None else None)


async def _read_media(reader: asyncio.StreamReader, counter: _Counter, sample_s: float) -> None:
    deadline = time.monotonic() + sample_s
    while time.monotonic() < deadline:
        first = await reader.readexactly(1)
        if first != b"$":  # an RTSP message between media (a keep-alive answer): skip its line
            await reader.readline()
            continue
        head = await reader.readexactly(3)
        payload = await reader.readexactly(int.from_bytes(head[1:3], "big"))
        if head[0] == 1:
            counter.add_rtcp(payload, time.time())
        elif head[0] == 0 and len(payload) >= 12:
            counter.add(int.from_bytes(payload[2:4], "big"), int.from_bytes(payload[4:8], "big"),
                        time.perf_counter())


class _UdpReceiver(asyncio.DatagramProtocol):
    """One of the client port pair: RTP packets to the counter, or RTCP sender reports to its clock."""

    def __init__(self, counter: _Counter, rtcp: bool) -> None:
        self.counter, self.rtcp = counter, rtcp

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self.rtcp:
            self.counter.add_rtcp(data, time.time())
        elif len(data) >= 12:
            self.counter.add(int.from_bytes(data[2:4], "big"), int.from_bytes(data[4:8], "big"),
                             time.perf_counter())


async def _bind_pair(host: str, counter: _Counter) -> list[asyncio.DatagramTransport]:
    """An even RTP port and the odd RTCP port above it (RFC 3550 §11), both free, on the local address that
    reaches the camera."""
    loop = asyncio.get_running_loop()
    for _ in range(20):
        rtp, _ = await loop.create_datagram_endpoint(lambda: _UdpReceiver(counter, False), local_addr=(host, 0))
        port = rtp.get_extra_info("sockname")[1]
        if port % 2 == 0 and port < 65535:
            try:
                rtcp, _ = await loop.create_datagram_endpoint(lambda: _UdpReceiver(counter, True),
                                                              local_addr=(host, port + 1))
            except OSError:
                rtcp = None
            if rtcp is not None:
                return [rtp, rtcp]
        rtp.close()
    raise OSError("no free even/odd UDP port pair")


async def _play(conn: RtspConnection, url: str, creds: tuple[str | None, str | None], transport: str,
                clock_of: list[int]) -> tuple[str | None, str]:
    """DESCRIBE, SETUP with `transport`, PLAY: (None, session) when playing, else (why not, "")."""
    status, headers, _ = await conn.send("DESCRIBE", url, creds, extra=("Accept: application/sdp",))
    if status != 200:
        return f"DESCRIBE answered {status}", ""
    track, clock = _track_url(headers.get("content-base", url), conn.body)
    clock_of.append(clock)
    status, headers, _ = await conn.send("SETUP", track, creds, extra=(f"Transport: {transport}",))
    if status != 200 or "session" not in headers:
        kind = "UDP" if "client_port" in transport else "TCP interleaved"
        return f"SETUP ({kind}) answered {status}" + (" (the camera refuses UDP)" if status == 461 else ""), ""
    session = headers["session"].split(";", 1)[0]
    status, _, _ = await conn.send("PLAY", url, creds, extra=(f"Session: {session}", "Range: npt=0-"))
    return (None, session) if status == 200 else (f"PLAY answered {status}", "")


async def measure_rtp(url: str, username: str | None, password: str | None, sample_s: float,
                      timeout_s: float = 10.0, udp: bool = False) -> RtpStats:
    """Play `url` over TCP-interleaved RTP (or over UDP) for `sample_s` and count gaps and jitter. Never
    raises: a failure is the result's `error`."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "rtsp":
        return RtpStats(error="measured on plain rtsp:// only")
    creds = (username, password)
    sockets: list[asyncio.DatagramTransport] = []
    try:
        async with asyncio.timeout(timeout_s + sample_s):
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 554)
            try:
                conn = RtspConnection(reader, writer)
                clock: list[int] = []
                if not udp:
                    failed, _ = await _play(conn, url, creds, "RTP/AVP/TCP;unicast;interleaved=0-1", clock)
                    if failed:
                        return RtpStats(error=failed)
                    counter = _Counter(clock[0])
                    await _read_media(reader, counter, sample_s)
                    return counter.stats()
                counter = _Counter(90_000)  # the clock rate comes with the SDP, before the first packet
                sockets = await _bind_pair(writer.get_extra_info("sockname")[0], counter)
                port = sockets[0].get_extra_info("sockname")[1]
                failed, session = await _play(conn, url, creds, f"RTP/AVP;unicast;client_port={port}-{port + 1}",
                                              clock)
                if failed:
                    return RtpStats(error=failed)
                counter.clock = clock[0]
                await asyncio.sleep(sample_s)  # the datagrams arrive on the loop meanwhile
                stats = counter.stats()
                with contextlib.suppress(OSError, ValueError, asyncio.IncompleteReadError):
                    await asyncio.wait_for(conn.send("TEARDOWN", url, creds, extra=(f"Session: {session}",)),
                                           2.0)
                return stats if stats.packets else stats.model_copy(update={
                    "error": "no RTP packet arrived over UDP (blocked by a firewall or NAT on the way?)"})
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except TimeoutError:
        return RtpStats(error="the stream stopped sending")
    except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
        return RtpStats(error=f"{type(exc).__name__}: {exc}")
    finally:
        for sock in sockets:
            sock.close()
