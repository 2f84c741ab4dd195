"""Live restream: one camera connection, any number of viewers.

A LiveTap is a consumer on a stream worker; it only does work while someone watches. Each viewer gets a
bounded queue; a viewer that falls behind skips to the next keyframe instead of slowing anyone else.
Wire format (WebSocket binary message): 8-byte big-endian signed wall clock in microseconds, 1 flags
byte (bit 0 = keyframe), one access unit (Annex-B with parameter sets before keyframes, or one JPEG).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from dataclasses import dataclass, field
from typing import Protocol

from vms_server.ingest.health import StreamHealth
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket, PacketConsumer

QUEUE_LIMIT = 200
CATCH_UP_AT = 12  # messages queued (about 0.5 s at 25 fps) at a keyframe: the viewer jumps to it instead
_HEADER = struct.Struct(">qB")


class Stream(Protocol):
    """What a tap needs of a camera stream: ingest's `Stream` in the server's process, `PoolStream` when the
    camera runs in an ingest worker process (the service's module pulls in the database layer: not imported)."""

    def add(self, consumer: PacketConsumer) -> None: ...

    def remove(self, consumer: PacketConsumer) -> None: ...

    def gop(self) -> list[MediaPacket]: ...

    @property
    def health(self) -> StreamHealth: ...


def _has_parameter_sets(codec: str, data: bytes) -> bool:
    head = data[:256]
    index = head.find(b"\x00\x00\x01")
    while index != -1 and index + 3 < len(head):
        nal = head[index + 3]
        if (codec == "h264" and nal & 0x1F == 7) or (codec == "hevc" and (nal >> 1) & 0x3F == 32):
            return True
        index = head.find(b"\x00\x00\x01", index + 3)
    return False


def frame_message(info: StreamInfo, pkt: MediaPacket) -> bytes:
    data = bytes(pkt.packet)
    if pkt.keyframe and info.codec != "mjpeg" and info.extradata and not _has_parameter_sets(info.codec, data):
        data = info.extradata + data
    return _HEADER.pack(pkt.wall_us, 1 if pkt.keyframe else 0) + data


@dataclass(eq=False)
class Viewer:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    after_us: int = -1
    need_key: bool = True  # until the first keyframe reaches the client

    def offer(self, message: bytes, keyframe: bool, wall_us: int) -> None:
        """On the loop: enqueue, or drop until the next keyframe when the client is too slow. A viewer more than
        CATCH_UP_AT messages behind at a keyframe drops what is queued and goes on from it: live view stays
        live (a jump) instead of playing out a backlog seconds late."""
        if wall_us <= self.after_us:
            return
        if self.need_key and not keyframe:
            return
        if keyframe and self.queue.qsize() > CATCH_UP_AT:
            while not self.queue.empty():
                if self.queue.get_nowait() is None:  # the end marker stays the last message
                    self.queue.put_nowait(None)
                    return
        try:
            self.queue.put_nowait(message)
            self.need_key = False
        except asyncio.QueueFull:
            self.need_key = True

    def closed(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)


class LiveTap:
    """PacketConsumer fanning one stream out to viewers (created on first view, kept by the playback service
    until shutdown; it follows the stream across reconnects and worker restarts)."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.info: StreamInfo | None = None
        self._viewers: set[Viewer] = set()
        self._lock = threading.Lock()
        stream.add(self)

    def subscribe(self, viewer: Viewer) -> list[bytes]:
        """Register a viewer; returns the messages of the current GOP (keyframe first) to send first."""
        with self._lock:
            info = self.info
            gop = self.stream.gop() if info is not None else []
            viewer.after_us = gop[-1].wall_us if gop else -1
            viewer.need_key = not gop
            self._viewers.add(viewer)
        return [frame_message(info, p) for p in gop] if info is not None else []

    def unsubscribe(self, viewer: Viewer) -> None:
        with self._lock:
            self._viewers.discard(viewer)

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    def on_open(self, info: StreamInfo) -> None:
        self.info = info

    def on_close(self, reason: str) -> None:
        self.info = None

    def on_packet(self, pkt: MediaPacket) -> None:
        with self._lock:
            if not self._viewers or self.info is None:
                return
            message = frame_message(self.info, pkt)
            for viewer in self._viewers:
                with contextlib.suppress(RuntimeError):
                    viewer.loop.call_soon_threadsafe(viewer.offer, message, pkt.keyframe, pkt.wall_us)
