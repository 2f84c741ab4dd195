"""One thread that reads every native RTSP session of a process (`selectors`), so that 128 cameras cost one
thread holding the GIL instead of 128 threads handing it to each other after every packet.

A camera's own thread still does the handshake and the back-off (`StreamWorker`); while its session plays it
waits for the reactor to say why the session ended. Consumers are called on the reactor thread, one camera
after another: a consumer must not block (the `PacketConsumer` rule), or it holds up every camera of the
process, which the watchdog's stuck-stream check then reports. A recorder hands the end of each segment (sync,
rename, index) to the process's offload thread (`ingest/offload.py`) for that reason.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vms_server.ingest.rtp_native import InterleavedReader, ProtocolError

logger = logging.getLogger(__name__)

TICK_S = 0.1
READ_SIZE = 262_144


@dataclass(eq=False)
class Session:
    """A playing session handed to the reactor: its socket, its parser and how to keep it alive."""

    sock: socket.socket
    reader: InterleavedReader
    stop: threading.Event
    read_timeout_s: float
    keepalive: Callable[[], bytes]
    keepalive_s: float
    teardown: Callable[[], bytes]
    done: threading.Event = field(default_factory=threading.Event)
    reason: str = ""
    last_data: float = field(default_factory=time.monotonic)
    next_keepalive: float = 0.0


class Reactor:
    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._incoming: list[Session] = []
        self._sessions: set[Session] = set()
        self._thread: threading.Thread | None = None
        self._buffer = bytearray(READ_SIZE)

    def run(self, session: Session) -> str:
        """Read the session until it ends (the camera closed it, it went silent, `stop` was set, the data did
        not parse); blocks the calling thread meanwhile and returns why it ended."""
        session.last_data = time.monotonic()
        session.next_keepalive = session.last_data + session.keepalive_s
        session.sock.setblocking(False)
        with self._lock:
            self._incoming.append(session)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ingest-reactor", daemon=True)
                self._thread.start()
        self.wake()
        session.done.wait()
        return session.reason

    def wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    @property
    def sessions(self) -> int:
        with self._lock:
            return len(self._sessions) + len(self._incoming)

    def _run(self) -> None:
        next_tick = time.monotonic()
        while True:
            for key, _ in self._selector.select(TICK_S):
                if key.data is None:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                else:
                    self._read(key.data)
            with self._lock:
                incoming, self._incoming = self._incoming, []
            for session in incoming:
                self._sessions.add(session)
                self._selector.register(session.sock, selectors.EVENT_READ, session)
            now = time.monotonic()
            if now >= next_tick or incoming:
                next_tick = now + TICK_S
                self._tick(now)

    def _read(self, session: Session) -> None:
        try:
            size = session.sock.recv_into(self._buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._end(session, f"stream error: {exc.strerror or type(exc).__name__}")
            return
        if size == 0:
            self._end(session, "the camera closed the stream")
            return
        session.last_data = time.monotonic()
        try:
            with memoryview(self._buffer) as view:
                session.reader.feed(view[:size])
        except ProtocolError as exc:
            self._end(session, f"the camera sent data that cannot be parsed ({exc})")
        except Exception as exc:  # a consumer bug ends this camera's session (it reconnects), not the reactor
            logger.exception("native ingest session failed")
            self._end(session, f"internal error: {type(exc).__name__}")

    def _tick(self, now: float) -> None:
        for session in list(self._sessions):
            if session.stop.is_set():
                with contextlib.suppress(OSError):
                    session.sock.send(session.teardown())
                self._end(session, "stopped")
            elif now - session.last_data > session.read_timeout_s:
                self._end(session, "timed out waiting for the camera")
            elif now >= session.next_keepalive:
                session.next_keepalive = now + session.keepalive_s
                with contextlib.suppress(OSError):  # a full send buffer skips one keep-alive; silence ends it
                    session.sock.send(session.keepalive())

    def _end(self, session: Session, reason: str) -> None:
        if session not in self._sessions:
            return
        self._sessions.discard(session)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(session.sock)
        with contextlib.suppress(OSError):
            session.sock.close()
        session.reason = reason
        session.done.set()


_reactors: dict[int, Reactor] = {}
_reactors_lock = threading.Lock()


def reactor() -> Reactor:
    """The process's reactor, made on first use. Keyed by pid: a forked child must not use its parent's, whose
    thread did not survive the fork."""
    with _reactors_lock:
        pid = os.getpid()
        if pid not in _reactors:
            _reactors[pid] = Reactor()
        return _reactors[pid]
