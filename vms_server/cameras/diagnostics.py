"""Network diagnostics of one camera: TCP round trip and reachability of each port it uses, RTSP OPTIONS and
DESCRIBE timing, and the bitrate and frame rate measured over a few seconds against the configured ones.

Written for the technician on the phone with site IT: the result carries a plain-text report to paste into a
ticket, and every failing check says what it means ("port closed", "credentials refused") rather than an
exception name. Nothing here changes the camera or its configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from vms_common.net import endpoint
from vms_server.cameras.rtp_stats import RtpStats, measure_rtp
from vms_server.cameras.rtsp_client import RtspConnection
from vms_server.ingest.source import SourceError, open_blocking, redact, with_credentials

logger = logging.getLogger(__name__)


class PortCheck(BaseModel):
    purpose: str = Field(description="What the camera serves there: 'rtsp main', 'rtsp sub', 'onvif'")
    host: str
    port: int
    reachable: bool
    connect_ms: float | None = Field(description="Fastest TCP connect of the attempts (the round trip)")
    attempts: int
    error: str | None = None


class RtspCheck(BaseModel):
    role: str
    url: str = Field(description="Without credentials")
    options_status: int | None = None
    options_ms: float | None = None
    describe_status: int | None = None
    describe_ms: float | None = None
    auth: str | None = Field(None, description="Scheme the camera asked for: basic, digest; null if none")
    error: str | None = None


class StreamCheck(BaseModel):
    role: str
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    sample_s: float
    frames: int = 0
    keyframes: int = 0
    measured_fps: float | None = None
    configured_fps: int | None = None
    measured_kbps: float | None = None
    configured_kbps: int | None = None
    rtp: RtpStats | None = Field(None, description="Packet loss and jitter over TCP-interleaved RTP (a second "
                                                   "sample of the same length)")
    rtp_udp: RtpStats | None = Field(None, description="The same over UDP, when asked for: loss here is the "
                                                       "network's (a third sample)")
    error: str | None = None


class DiagnosticsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # as every body: an unknown field is a mistake, said as such
    sample_s: float = Field(3.0, ge=0.5, le=20, description="How long each stream is read to measure its rates")
    attempts: int = Field(3, ge=1, le=10, description="TCP connects per port (the fastest is the round trip)")
    udp: bool = Field(False, description="Also play each stream over UDP to measure the network's packet loss "
                                         "and jitter (NAT and firewalls often block it; recording uses TCP)")


class DiagnosticsOut(BaseModel):
    camera_id: str
    name: str
    ran_at: dt.datetime
    ports: list[PortCheck]
    rtsp: list[RtspCheck]
    streams: list[StreamCheck]
    problems: list[str] = Field(description="What a technician should look at, in plain words; empty when fine")
    report: str = Field(description="Everything above as text to paste into a ticket")


@dataclass
class Target:
    """What to check for one camera, with its credentials (never put in the result)."""

    camera_id: str
    name: str
    onvif_url: str | None
    streams: list[tuple[str, str, int | None, int | None]]  # role, url, configured fps, configured kbps
    username: str | None
    password: str | None


def _endpoint(url: str) -> tuple[str, int]:
    host, port = endpoint(url)
    return host, port or 80


async def check_port(purpose: str, host: str, port: int, attempts: int, timeout_s: float = 3.0) -> PortCheck:
    times: list[float] = []
    error = None
    for _ in range(attempts):
        start = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                _, writer = await asyncio.open_connection(host, port)
        except TimeoutError:
            error = f"no answer within {timeout_s:g} s (filtered by a firewall, or the host is down)"
            break
        except ConnectionRefusedError:
            error = "connection refused (the host is up but nothing listens on this port)"
            break
        except OSError as exc:
            error = f"{exc.strerror or exc} (no route to the host?)"
            break
        times.append((time.perf_counter() - start) * 1000)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return PortCheck(purpose=purpose, host=host, port=port, reachable=bool(times),
                     connect_ms=round(min(times), 2) if times else None, attempts=attempts, error=error)


async def check_rtsp(role: str, url: str, username: str | None, password: str | None,
                     timeout_s: float = 5.0) -> RtspCheck:
    check = RtspCheck(role=role, url=redact(url))
    host, port = _endpoint(url)
    if urlsplit(url).scheme.lower() == "rtsps":
        check.error = "rtsps: the OPTIONS/DESCRIBE timing is measured on plain RTSP only"
        return check
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                client = RtspConnection(reader, writer)
                check.options_status, check.options_ms = await client.timed("OPTIONS", url, (username, password),
                                                                            check)
                check.describe_status, check.describe_ms = await client.timed("DESCRIBE", url,
                                                                              (username, password), check)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except TimeoutError:
        check.error = f"no complete RTSP answer within {timeout_s:g} s"
    except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
        check.error = f"{type(exc).__name__}: {exc}"
    return check


def measure_stream_blocking(role: str, url: str, username: str | None, password: str | None,
                            sample_s: float, configured: tuple[int | None, int | None]) -> StreamCheck:
    """Read the stream for `sample_s` and count frames and bytes (blocking: run in a thread). Rates are taken
    over the stream's own timestamps, so a slow recorder does not make a camera look slow."""
    check = StreamCheck(role=role, sample_s=sample_s, configured_fps=configured[0], configured_kbps=configured[1])
    try:
        container, info = open_blocking(with_credentials(url, username, password), "tcp", 10.0, 5.0)
    except SourceError as exc:
        check.error = str(exc)
        return check
    check.codec, check.width, check.height = info.codec, info.width, info.height
    first: Any = None
    last: Any = None
    size = 0
    deadline = time.monotonic() + sample_s
    try:
        for packet in container.demux(info.stream):
            if packet.size == 0 or packet.pts is None:
                continue
            first = packet.pts if first is None else first
            last = packet.pts
            size += packet.size
            check.frames += 1
            check.keyframes += 1 if packet.is_keyframe else 0
            if time.monotonic() >= deadline:
                break
    except Exception as exc:  # PyAV raises its own error per FFmpeg code; any of them ends the sample
        check.error = f"the stream broke off: {exc}"
    finally:
        container.close()
    span = float((last - first) * info.time_base) if first is not None and last is not None else 0.0
    if span > 0 and check.frames > 1:
        check.measured_fps = round((check.frames - 1) / span, 2)
        check.measured_kbps = round(size * 8 / span / 1000, 1)
    return check


def _rtp_problems(s: StreamCheck) -> list[str]:
    """What the RTP samples of one stream say: the camera dropping packets (TCP), the network losing them
    (UDP), jitter, and a camera clock without NTP."""
    out: list[str] = []
    if s.rtp is not None and s.rtp.loss_pct > 1:
        out.append(f"{s.role} stream: {s.rtp.lost} of {s.rtp.packets + s.rtp.lost} RTP packets never sent "
                   f"({s.rtp.loss_pct:g} %; over TCP the camera itself dropped them)")
    if s.rtp is not None and s.rtp.jitter_ms is not None and s.rtp.jitter_ms > 30:
        out.append(f"{s.role} stream: RTP jitter {s.rtp.jitter_ms:g} ms (a congested path or bursty sender)")
    if s.rtp is not None and s.rtp.clock_offset_ms is not None and abs(s.rtp.clock_offset_ms) > 2000:
        out.append(f"{s.role} stream: the camera's clock is {abs(s.rtp.clock_offset_ms) / 1000:.1f} s "
                   f"{'ahead of' if s.rtp.clock_offset_ms > 0 else 'behind'} the server's (set NTP on the camera)")
    if s.rtp_udp is not None and s.rtp_udp.error:
        out.append(f"{s.role} stream over UDP: {s.rtp_udp.error}")
    elif s.rtp_udp is not None and s.rtp_udp.loss_pct > 1:
        out.append(f"{s.role} stream: {s.rtp_udp.lost} of {s.rtp_udp.packets + s.rtp_udp.lost} RTP packets "
                   f"lost over UDP ({s.rtp_udp.loss_pct:g} %: the network path loses packets; keep the camera "
                   "on TCP, or look for a saturated link, a duplex mismatch or Wi-Fi)")
    return out


def _problems(ports: list[PortCheck], rtsp: list[RtspCheck], streams: list[StreamCheck]) -> list[str]:
    out = [f"{p.purpose} port {p.host}:{p.port} is not reachable: {p.error}" for p in ports if not p.reachable]
    for r in rtsp:
        if 401 in (r.options_status, r.describe_status):
            out.append(f"the camera refused the stored credentials for the {r.role} stream (RTSP 401"
                       f"{', ' + r.auth if r.auth else ''})")
        elif r.describe_status is not None and r.describe_status != 200:
            out.append(f"DESCRIBE of the {r.role} stream answered {r.describe_status} (wrong path?)")
        elif r.error and r.options_status is None and not any(
                not p.reachable and p.purpose == f"rtsp {r.role}" for p in ports):
            out.append(f"RTSP {r.role}: {r.error}")
    for s in streams:
        if s.error:
            out.append(f"{s.role} stream: {s.error}")
            continue
        if s.measured_fps is not None and s.configured_fps and s.measured_fps < 0.8 * s.configured_fps:
            out.append(f"{s.role} stream: {s.measured_fps:g} fps measured, {s.configured_fps} configured "
                       "(the camera sends fewer frames: its encoder settings, or the network drops packets)")
        if s.measured_kbps is not None and s.configured_kbps and not (
                0.5 * s.configured_kbps <= s.measured_kbps <= 1.5 * s.configured_kbps):
            out.append(f"{s.role} stream: {s.measured_kbps:g} kbit/s measured, {s.configured_kbps} configured")
        out.extend(_rtp_problems(s))
        if s.frames and s.keyframes == 0:
            out.append(f"{s.role} stream: no keyframe in {s.sample_s:g} s (GOP too long for quick start)")
    return out


def render_report(out: DiagnosticsOut) -> str:
    """The result as plain text, one fact per line, for a support ticket."""
    lines = [f"Camera diagnostics: {out.name} ({out.camera_id}) at {out.ran_at:%Y-%m-%d %H:%M:%S} UTC", "", "Ports:"]
    for p in out.ports:
        state = f"open, connect {p.connect_ms:g} ms" if p.reachable else f"NOT reachable: {p.error}"
        lines.append(f"  {p.purpose:<10} {p.host}:{p.port}  {state}")
    lines.append("RTSP:")
    for r in out.rtsp:
        lines.append(f"  {r.role:<5} {r.url}  OPTIONS {r.options_status or '-'} ({r.options_ms or '-'} ms), "
                     f"DESCRIBE {r.describe_status or '-'} ({r.describe_ms or '-'} ms), auth {r.auth or 'none'}"
                     + (f", error: {r.error}" if r.error else ""))
    lines.append("Streams:")
    for s in out.streams:
        if s.error:
            lines.append(f"  {s.role:<5} error: {s.error}")
            continue
        lines.append(f"  {s.role:<5} {s.codec} {s.width}x{s.height}, {s.frames} frames ({s.keyframes} key) in "
                     f"{s.sample_s:g} s: {s.measured_fps} fps (configured {s.configured_fps or '-'}), "
                     f"{s.measured_kbps} kbit/s (configured {s.configured_kbps or '-'})")
        for transport, rtp in (("TCP", s.rtp), ("UDP", s.rtp_udp)):
            if rtp is not None:
                lines.append(f"        RTP over {transport}: {rtp.packets} packets, {rtp.lost} lost "
                             f"({rtp.loss_pct:g} %), jitter {rtp.jitter_ms if rtp.jitter_ms is not None else '-'} "
                             f"ms, clock offset {rtp.clock_offset_ms if rtp.clock_offset_ms is not None else '-'} ms"
                             + (f", error: {rtp.error}" if rtp.error else ""))
    lines.append("Problems:" if out.problems else "Problems: none found")
    lines.extend(f"  - {p}" for p in out.problems)
    return "\n".join(lines) + "\n"


async def run_diagnostics(target: Target, body: DiagnosticsIn) -> DiagnosticsOut:
    """Every check of one camera; ports and RTSP first (quick), then the streams one after the other (so two
    streams do not compete for a thin uplink and spoil each other's rate)."""
    wanted: dict[tuple[str, int], str] = {}
    for role, url, _, _ in target.streams:
        wanted.setdefault(_endpoint(url), f"rtsp {role}")
    if target.onvif_url:
        wanted.setdefault(_endpoint(target.onvif_url), "onvif")
    ports = list(await asyncio.gather(*(check_port(purpose, host, port, body.attempts)
                                        for (host, port), purpose in wanted.items())))
    rtsp = list(await asyncio.gather(*(check_rtsp(role, url, target.username, target.password)
                                       for role, url, _, _ in target.streams)))
    streams = []
    for (role, url, fps, kbps), r in zip(target.streams, rtsp, strict=True):
        if r.describe_status != 200 and r.error is None:
            streams.append(StreamCheck(role=role, sample_s=body.sample_s, configured_fps=fps, configured_kbps=kbps,
                                       error="not measured: DESCRIBE failed"))
            continue
        check = await asyncio.to_thread(measure_stream_blocking, role, url, target.username, target.password,
                                        body.sample_s, (fps, kbps))
        if check.error is None:
            check.rtp = await measure_rtp(url, target.username, target.password, body.sample_s)
            if body.udp:
                check.rtp_udp = await measure_rtp(url, target.username, target.password, body.sample_s, udp=True)
        streams.append(check)
    out = DiagnosticsOut(camera_id=target.camera_id, name=target.name, ran_at=dt.datetime.now(dt.UTC), ports=ports,
                         rtsp=rtsp, streams=streams, problems=_problems(ports, rtsp, streams), report="")
    out.report = render_report(out)
    logger.info("diagnostics of camera %s: %d problems", target.camera_id, len(out.problems))
    return out
