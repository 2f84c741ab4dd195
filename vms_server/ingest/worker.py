"""One worker per camera stream: a thread that keeps an RTSP connection up and fans packets out.

Packets never cross the event loop one by one: consumers (recorder, motion, live view) are called on this
thread and must be quick (muxing copies, queue appends). Consumers that need the loop hop over themselves.
The worker keeps the packets since the last keyframe so a new viewer or a live snapshot starts at once.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from vms_common.net import endpoint
from vms_server.ingest import loss
from vms_server.ingest.health import StreamHealth, StreamState
from vms_server.ingest.source import SourceError, StreamInfo, classify, open_blocking, producer_time_us

logger = logging.getLogger(__name__)
GOP_LIMIT = 600


@dataclass(slots=True)
class MediaPacket:
    """One access unit as demuxed, with the connection's own timestamps kept apart from the packet's
    (muxers rewrite the packet's fields, so every consumer re-derives them from here)."""

    packet: Any
    pts: int
    dts: int
    wall_us: int
    keyframe: bool
    size: int


class PacketConsumer(Protocol):
    def on_open(self, info: StreamInfo) -> None:
        """A connection is up; `info.stream` may serve as a muxer template until on_close."""

    def on_packet(self, pkt: MediaPacket) -> None:
        """Called on the ingest thread for every packet; must not block."""

    def on_close(self, reason: str) -> None:
        """The connection ended (a gap starts)."""


class StreamSource(Protocol):
    """What ingest and its consumers use of a stream's producer: a `StreamWorker` in this process, or a stream
    recorded in an ingest worker process (`vms_server.recording.pool_ingest`), so that live view, analytics and
    the watchdog do not need to know which."""

    @property
    def role(self) -> str: ...

    @property
    def info(self) -> StreamInfo | None: ...

    @property
    def health(self) -> StreamHealth: ...

    def start(self) -> None: ...

    def stop_blocking(self, timeout: float = 15.0) -> None: ...

    def add(self, consumer: PacketConsumer) -> None: ...

    def remove(self, consumer: PacketConsumer) -> None: ...

    def streaming(self, within_s: float) -> bool: ...

    def gop(self) -> list[MediaPacket]: ...


@dataclass(frozen=True)
class WorkerOptions:
    transport: str = "tcp"
    open_timeout_s: float = 10.0
    read_timeout_s: float = 10.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    probe_interval_s: float = 1.0  # while backing off from an unreachable camera, how often to knock
    reader: str = "ffmpeg"  # "native": RTSP/TCP read on one thread per process (ingest/native_worker.py)


def _control_address(url: str) -> tuple[str, int] | None:
    """Host and port of the camera's RTSP control connection (TCP for every transport)."""
    host, port = endpoint(url)
    return (host, port) if host and port else None


class _SilenceMonitor:
    """One thread for every worker: a stream that has passed no packet for its read timeout is reported down
    at once. FFmpeg ends a session on a network that went silent both ways only after a second timeout (it
    waits for an answer to its keep-alive), so the state said "online" for twice the configured time."""

    def __init__(self) -> None:
        self._workers: weakref.WeakSet[StreamWorker] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, worker: StreamWorker) -> None:
        with self._lock:
            self._workers.add(worker)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ingest-silence", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(SILENCE_TICK_S)
            with self._lock:
                workers = list(self._workers)
            for worker in workers:
                worker.check_silence()


SILENCE_TICK_S = 0.25
_silence = _SilenceMonitor()


def _answers(address: tuple[str, int], timeout: float) -> bool:
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


class StreamWorker:
    """Owns the connection to one stream of one camera. Thread-safe add/remove of consumers."""

    def __init__(self, camera_id: Any, role: str, url: Callable[[], str], options: WorkerOptions,
                 on_change: Callable[[StreamWorker], None] | None = None) -> None:
        self.camera_id = camera_id
        self.role = role
        self._url = url
        self.options = options
        self.health = StreamHealth(role=role)
        self.info: StreamInfo | None = None
        self._consumers: tuple[PacketConsumer, ...] = ()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._gop: list[MediaPacket] = []
        self._on_change = on_change
        self._opening = False
        self.last_packet = 0.0  # time.monotonic() of the last packet (the watchdog's liveness signal)
        self._last_arrival: float | None = None
        self._dispatching = False  # the thread is inside a consumer (stuck there, if for long)
        self._thread = threading.Thread(target=self._run, name=f"ingest-{camera_id}-{role}", daemon=True)
        self._log = {"camera_id": str(camera_id), "stream": role}

    def start(self) -> None:
        self._thread.start()
        _silence.watch(self)

    def check_silence(self) -> None:
        """Report the stream down once it has been silent for the read timeout (the session may take longer
        to end); the next packet reports it back online."""
        if self.health.state != StreamState.ONLINE or self._stop.is_set() or self._dispatching:
            return  # a thread stuck in a consumer is the watchdog's case (it restarts the stream), not silence
        silent = time.monotonic() - self.last_packet
        if self.last_packet and silent > self.options.read_timeout_s:
            self._changed(StreamState.OFFLINE, f"no media for {silent:.0f} s")

    def stop_blocking(self, timeout: float = 15.0) -> None:
        """Ask the thread to end and wait for it (consumers get on_close)."""
        self._stop.set()
        if self._thread.is_alive() and not self._opening:
            self._thread.join(timeout)
        # A thread blocked in connect cannot be interrupted; it exits by itself when the connect times out,
        # sees the stop flag and has no segment open, so nobody needs to wait for it.

    def add(self, consumer: PacketConsumer) -> None:
        with self._lock:
            self._consumers = (*self._consumers, consumer)
            info = self.info
        if info is not None:
            consumer.on_open(info)

    def remove(self, consumer: PacketConsumer) -> None:
        with self._lock:
            self._consumers = tuple(c for c in self._consumers if c is not consumer)

    def streaming(self, within_s: float) -> bool:
        """A packet went through the consumers in the last `within_s` seconds."""
        return time.monotonic() - self.last_packet <= within_s

    def gop(self) -> list[MediaPacket]:
        """Packets since the last keyframe (the keyframe first); empty when offline."""
        with self._lock:
            return list(self._gop)

    def _changed(self, state: StreamState, reason: str | None = None) -> None:
        if self.health.set_state(state, reason) and self._on_change is not None:
            self._on_change(self)

    def _lost(self, count: int) -> None:
        self.health.packet_loss = (self.health.packet_loss or 0) + count

    def _run(self) -> None:
        delay = self.options.backoff_initial_s
        if self.options.transport == "udp":
            self.health.packet_loss = 0  # over TCP the transport never loses packets; null says "not reported"
            loss.install()
            loss.count_for_this_thread(self._lost)
        try:
            self._loop(delay)
        finally:
            loss.count_for_this_thread(None)
        self._changed(StreamState.STOPPED)

    def _loop(self, delay: float) -> None:
        # CONNECTING only until the first outcome: while retrying, the state keeps saying why it failed.
        self._changed(StreamState.CONNECTING)
        while not self._stop.is_set():
            started = time.monotonic()
            reason = self._session()
            if self._stop.is_set():
                break
            if time.monotonic() - started > 30:
                delay = self.options.backoff_initial_s
            self.health.reconnects += 1
            logger.warning("stream down, retrying in %.1f s: %s", delay, reason, extra=self._log)
            self._wait_before_retry(delay)
            delay = min(delay * 2, self.options.backoff_max_s)

    def _wait_before_retry(self, delay: float) -> None:
        """Sleep out the back-off, but end it as soon as a camera that did not answer answers again.

        The back-off keeps a broken camera from being hammered; a camera that was unreachable (power, network)
        and comes back must not wait out a long sleep: it recorded again only ~28 s after a 30 s outage. A TCP
        connect to its RTSP port is cheap; only a camera seen down and then up ends the wait early, so one that
        answers TCP but keeps failing RTSP still backs off."""
        deadline = time.monotonic() + delay
        address = _control_address(self._url())
        interval = self.options.probe_interval_s
        seen_down = False
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if address is None or left <= interval:
                self._stop.wait(left)
                return
            knocked = time.monotonic()
            up = _answers(address, timeout=min(interval, 1.0))
            if up and seen_down:
                logger.info("camera answers again; reconnecting now", extra=self._log)
                return
            seen_down = seen_down or not up
            self._stop.wait(max(0.0, interval - (time.monotonic() - knocked)))

    def _session(self) -> str:
        """One connection from open to failure; returns why it ended."""
        self._opening = True
        try:
            container, info = self._open()
        except SourceError as exc:
            self._changed(exc.state, str(exc))
            return str(exc)
        finally:
            self._opening = False
        if self._stop.is_set():
            container.close()
            return "stopped"
        reason = "stopped"
        try:
            with self._lock:
                self.info = info
                consumers = self._consumers
            self._last_arrival = None  # a new connection's first packet proves it live
            self.health.codec, self.health.width, self.health.height = info.codec, info.width, info.height
            for consumer in consumers:
                consumer.on_open(info)
            self._changed(StreamState.ONLINE)
            logger.info("stream online: %s %dx%d", info.codec, info.width, info.height, extra=self._log)
            reason = self._pump(container, info)
        except Exception as exc:  # a consumer bug must not kill the worker; it reconnects instead
            logger.exception("ingest session failed", extra=self._log)
            reason = f"internal error: {type(exc).__name__}"
        finally:
            with self._lock:
                self.info = None
                self._gop = []
                consumers = self._consumers
            for consumer in consumers:
                consumer.on_close(reason)
            container.close()
            self.health.gaps += 1
            if not self._stop.is_set():
                self._changed(StreamState.OFFLINE, reason)
        return reason

    def _open(self) -> tuple[Any, StreamInfo]:
        """Connect and describe (blocking; raises SourceError): a connection with `close()`, and its stream."""
        return open_blocking(self._url(), self.options.transport, self.options.open_timeout_s,
                             self.options.read_timeout_s)

    def _pump(self, container: Any, info: StreamInfo) -> str:
        tb = float(info.time_base)
        anchor_us: int | None = None
        last_dts: int | None = None
        try:
            for packet in container.demux(info.stream):
                if self._stop.is_set():
                    return "stopped"
                if packet.size == 0:
                    continue
                dts = packet.dts if packet.dts is not None else packet.pts
                if dts is None or (last_dts is not None and dts <= last_dts):
                    continue  # not muxable: no timestamp or not increasing
                pts = packet.pts if packet.pts is not None else dts
                last_dts = dts
                wall = producer_time_us(packet)
                if wall is None:
                    if anchor_us is None:
                        anchor_us = time.time_ns() // 1000 - int(pts * tb * 1e6)
                    wall = anchor_us + int(pts * tb * 1e6)
                elif self.health.time_source != "ntp":
                    self.health.time_source = "ntp"
                self._dispatch(MediaPacket(packet, pts, dts, wall, bool(packet.is_keyframe), packet.size))
        except Exception as exc:
            return str(classify(exc))
        return "the camera ended the stream"

    def _dispatch(self, pkt: MediaPacket) -> None:
        now = time.monotonic()
        gap, self._last_arrival = now - (self._last_arrival or now), now
        # One packet after a silence as long as the read timeout is no proof of life: it is the straggler FFmpeg
        # hands over when its read times out on a dead network (it then waits a second timeout). The next is.
        if gap < self.options.read_timeout_s * 0.9:
            self.last_packet = now
            if self.health.state != StreamState.ONLINE:  # a pause the silence monitor reported has ended
                self._changed(StreamState.ONLINE)
        self.health.packet(pkt.size, pkt.keyframe, pkt.wall_us)
        with self._lock:
            if pkt.keyframe:
                self._gop = [pkt]
            elif self._gop and len(self._gop) < GOP_LIMIT:
                self._gop.append(pkt)
            consumers = self._consumers
        self._dispatching = True
        try:
            for consumer in consumers:
                consumer.on_packet(pkt)
        finally:
            self._dispatching = False
