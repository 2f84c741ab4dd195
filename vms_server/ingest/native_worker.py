"""`NativeStreamWorker`: a `StreamWorker` whose session is read by the process's reactor thread instead of a
blocking FFmpeg demuxer on the camera's own thread (ingest worker processes, `recording.ingest_reader`).

The handshake, the back-off, health, the GOP cache and the consumers are the parent's; only opening and pumping
differ. Opening plays the session and reads until the first keyframe (and, when the SDP gives no frame rate,
five more pictures to measure it), as FFmpeg's probe does, then decodes that keyframe once for the picture
size. The packets read while probing are handed to the consumers first, so none is lost.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import statistics
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av
import av.error

from vms_server.ingest import reactor as reactor_module
from vms_server.ingest.health import StreamState
from vms_server.ingest.offload import Offloading, offload
from vms_server.ingest.rtp_native import START, AccessUnit, Depacketizer, InterleavedReader, ProtocolError
from vms_server.ingest.rtsp_native import Handshake, handshake, session_request
from vms_server.ingest.source import SourceError, StreamInfo, keyframe_template
from vms_server.ingest.worker import MediaPacket, PacketConsumer, StreamWorker, WorkerOptions

logger = logging.getLogger(__name__)

PROBE_FRAMES = 5
KEEPALIVE_MIN_S = 5.0  # OPTIONS at half the session timeout the camera gives, within these bounds
KEEPALIVE_MAX_S = 25.0
_PARAMETER_KINDS = {"h264": (7, 8), "hevc": (32, 33, 34)}


def _nal_kind(codec: str, nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F if codec == "hevc" else nal[0] & 0x1F


def in_band_parameter_sets(codec: str, unit: bytes) -> tuple[bytes, ...]:
    """VPS/SPS/PPS carried in a keyframe (for a camera whose SDP lists none)."""
    kinds = _PARAMETER_KINDS[codec]
    return tuple(nal for nal in unit.split(START) if nal and _nal_kind(codec, nal) in kinds)


class NativeConnection:
    """One playing session: its handshake, its parser and the units read while probing."""

    def __init__(self, shake: Handshake) -> None:
        self.shake = shake
        self.units: list[AccessUnit] = []
        self.depacketizer = Depacketizer(shake.track.codec, shake.track.payload_type, shake.track.clock_rate,
                                         self.units.append)
        self.reader = InterleavedReader(self.depacketizer)
        self.template: Any = None

    def probe(self, timeout_s: float) -> StreamInfo:
        """Read until a keyframe (and a frame rate) is known; SourceError when none comes in `timeout_s`."""
        track, sock = self.shake.track, self.shake.sock
        deadline = time.monotonic() + timeout_s
        try:
            self.reader.feed(self.shake.leftover)
            while not self._probed(track.framerate):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SourceError(StreamState.OFFLINE, f"no keyframe from the camera within {timeout_s:.0f} s")
                sock.settimeout(left)
                data = sock.recv(65_536)
                if not data:
                    raise SourceError(StreamState.OFFLINE, "the camera closed the stream")
                self.reader.feed(data)
        except TimeoutError:
            raise SourceError(StreamState.OFFLINE, f"no keyframe from the camera within {timeout_s:.0f} s") from None
        except ProtocolError as exc:
            raise SourceError(StreamState.OFFLINE, f"the camera sent data that cannot be parsed ({exc})") from None
        except OSError as exc:
            raise SourceError(StreamState.OFFLINE, f"stream error: {exc.strerror or type(exc).__name__}") from None
        key = next(unit for unit in self.units if unit.keyframe)
        sets = track.parameter_sets or in_band_parameter_sets(track.codec, key.data)
        extradata = b"".join(START + nal for nal in sets) or None
        try:
            self.template = keyframe_template(track.codec, extradata, key.data)
            stream = self.template.streams.video[0]
        except (av.error.FFmpegError, IndexError):
            raise SourceError(StreamState.OFFLINE, "the camera's first keyframe cannot be decoded") from None
        context = stream.codec_context
        return StreamInfo(codec=track.codec, width=context.width or 0, height=context.height or 0,
                          fps=track.framerate or self._measured_fps(), time_base=Fraction(1, track.clock_rate),
                          extradata=extradata, stream=stream)

    def _probed(self, framerate: float | None) -> bool:
        first = next((i for i, unit in enumerate(self.units) if unit.keyframe), None)
        if first is None:
            return False
        return framerate is not None or len(self.units) - first > PROBE_FRAMES

    def _measured_fps(self) -> float:
        stamps = [unit.timestamp for unit in self.units]
        steps = [b - a for a, b in itertools.pairwise(stamps) if b > a]
        if not steps:
            return 0.0
        return round(self.shake.track.clock_rate / statistics.median(steps), 2)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.shake.sock.close()
        if self.template is not None:
            self.template.close()


class NativeStreamWorker(StreamWorker):
    """A camera stream read by the process's reactor (RTSP over TCP, H.264/H.265)."""

    def add(self, consumer: PacketConsumer) -> None:
        """Consumers run on the reactor thread, which reads every camera of the process: one that can hand its
        blocking work elsewhere (a recorder ending a segment) is given the process's offload thread."""
        if isinstance(consumer, Offloading) and consumer.offload is None:
            consumer.offload = offload()
        super().add(consumer)

    def _open(self) -> tuple[Any, StreamInfo]:
        shake = handshake(self._url(), self.options.open_timeout_s)
        connection = NativeConnection(shake)
        try:
            info = connection.probe(self.options.open_timeout_s)
        except BaseException:
            connection.close()
            raise
        return connection, info

    def _pump(self, container: Any, info: StreamInfo) -> str:
        connection: NativeConnection = container
        clock = connection.shake.track.clock_rate
        base: int | None = None  # the first unit's RTP timestamp: pts count from it
        anchor: int | None = None  # wall clock of pts 0 when the camera sends no RTCP sender report
        last = -1

        def deliver(unit: AccessUnit) -> None:
            nonlocal base, anchor, last
            if self._stop.is_set():
                return
            if base is None:
                base = unit.timestamp
            pts = unit.timestamp - base
            if pts <= last:
                return  # not muxable: not increasing
            last = pts
            wall = unit.wall_us
            if wall is None:
                if anchor is None:
                    anchor = time.time_ns() // 1000 - pts * 1_000_000 // clock
                wall = anchor + pts * 1_000_000 // clock
            elif self.health.time_source != "ntp":
                self.health.time_source = "ntp"
            packet = av.Packet(unit.data)
            packet.is_keyframe = unit.keyframe
            self._dispatch(MediaPacket(packet, pts, pts, wall, unit.keyframe, len(unit.data)))

        probed, connection.units = connection.units, []
        for unit in probed:
            deliver(unit)
        connection.depacketizer.emit = deliver
        self.connection = connection  # for diagnostics and tests: the session being read
        shake = connection.shake
        session = reactor_module.Session(
            sock=shake.sock, reader=connection.reader, stop=self._stop, read_timeout_s=self.options.read_timeout_s,
            keepalive=lambda: session_request(shake, "OPTIONS"),
            keepalive_s=max(KEEPALIVE_MIN_S, min(KEEPALIVE_MAX_S, shake.session_timeout_s / 2)),
            teardown=lambda: session_request(shake, "TEARDOWN"))
        return reactor_module.reactor().run(session)


def make_stream_worker(camera_id: Any, role: str, url: Callable[[], str], options: WorkerOptions,
                       on_change: Callable[[StreamWorker], None] | None = None) -> StreamWorker:
    """The native reader where it is asked for and can serve (RTSP over TCP); FFmpeg's otherwise (UDP, rtsps,
    HTTP/MJPEG sources), decided per stream."""
    if options.reader == "native" and options.transport == "tcp" and url().lower().startswith("rtsp://"):
        return NativeStreamWorker(camera_id, role, url, options, on_change)
    return StreamWorker(camera_id, role, url, options, on_change)
