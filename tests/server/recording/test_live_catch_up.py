"""Live view under load stays live (issue 22): a viewer or a worker's relay that falls behind drops its backlog at
the next keyframe and goes on from there, instead of delivering everything seconds late."""

from __future__ import annotations

import asyncio
import threading
from fractions import Fraction

from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket
from vms_server.playback.live import CATCH_UP_AT, Viewer
from vms_server.recording.pool_worker import LIVE_BACKLOG, PACKET, Outbox, Relay


def packet(n: int, key: bool) -> MediaPacket:
    return MediaPacket(b"\x00\x00\x01\x65" + n.to_bytes(4, "big"), n, n, 1_000_000 + n * 40_000, key, 8)


async def test_a_viewer_behind_at_a_keyframe_jumps_to_it() -> None:
    viewer = Viewer(asyncio.get_running_loop())
    viewer.offer(b"k0", True, 1)
    for n in range(2, CATCH_UP_AT + 5):
        viewer.offer(f"p{n}".encode(), False, n)
    assert viewer.queue.qsize() > CATCH_UP_AT  # nobody read: behind
    viewer.offer(b"k1", True, 100)
    viewer.offer(b"p101", False, 101)
    assert [viewer.queue.get_nowait() for _ in range(viewer.queue.qsize())] == [b"k1", b"p101"]


async def test_a_viewer_that_keeps_up_gets_every_message() -> None:
    viewer = Viewer(asyncio.get_running_loop())
    for n in range(60):
        viewer.offer(f"m{n}".encode(), n % 10 == 0, n + 1)
        if n % 5 == 4:  # a client reading in bursts, never more than CATCH_UP_AT behind
            while not viewer.queue.empty():
                viewer.queue.get_nowait()
    viewer.offer(b"last", True, 1000)
    assert viewer.queue.get_nowait() == b"last"


class _Stuck:
    """A socket to a busy main process: nothing is sent until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent: list[bytes] = []

    def send_bytes(self, message: bytes) -> None:
        self.release.wait(10)
        self.sent.append(message)


class _Worker:
    info = StreamInfo("h264", 320, 240, 25.0, Fraction(1, 90000), None, None)

    def gop(self) -> list[MediaPacket]:
        return []


def test_a_relay_behind_drops_its_backlog_at_the_next_keyframe() -> None:
    conn = _Stuck()
    outbox = Outbox(conn)  # type: ignore[arg-type]
    relay = Relay(0, _Worker(), outbox)  # type: ignore[arg-type]
    relay.enable(True)
    relay.on_packet(packet(0, True))
    for n in range(1, LIVE_BACKLOG + 10):
        relay.on_packet(packet(n, False))
    relay.on_packet(packet(500, True))  # behind at a keyframe: what is queued goes
    relay.on_packet(packet(501, False))
    conn.release.set()
    outbox.close()
    sent = [PACKET.unpack_from(m, 1)[1] for m in conn.sent if m[:1] == b"P"]
    # The packet the socket was stuck on may have gone out; after it, the new keyframe and what follows.
    assert sent[-2:] == [500, 501]
    assert len(sent) <= 3


def test_an_unwatched_camera_sends_nothing() -> None:
    conn = _Stuck()
    conn.release.set()
    outbox = Outbox(conn)  # type: ignore[arg-type]
    relay = Relay(0, _Worker(), outbox)  # type: ignore[arg-type]
    for n in range(20):
        relay.on_packet(packet(n, n == 0))
    relay.enable(True)
    relay.on_packet(packet(20, False))  # joined between keyframes: waits for one
    relay.on_packet(packet(30, True))
    outbox.close()
    kinds = [m[:1] for m in conn.sent]
    assert kinds == [b"O", b"P"] and PACKET.unpack_from(conn.sent[1], 1)[1] == 30
