"""The ingest workers' messages as the main process reads them (issue 22; `IngestPool`'s, apart for the size of
its module): one reader thread per worker takes finished segments to the index, keeps the counts and stream states
the workers report, answers the pool's questions (a snapshot's GOP), relays the packets of watched cameras to their
consumers, and hands a move's answers and a moving camera's new connection to `pool_move`.

Packets come as b"P" + header + access unit, everything else as b"O" + pickle (`pool_worker`). A message about a
camera is routed by (worker, index) through `_slots`, and ignored for a camera removed while its worker was still
sending.
"""

from __future__ import annotations

import logging
import pickle
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import GOP_LIMIT, MediaPacket
from vms_server.recording.pool_move import CameraMoves, info_of, shifted
from vms_server.recording.pool_worker import PACKET
from vms_server.recording.segments import SegmentResult

if TYPE_CHECKING:
    from vms_server.recording.pool import _Camera, _Worker

logger = logging.getLogger(__name__)


@dataclass
class Request:
    """A question to a worker whose answer comes back on its reader thread."""

    done: threading.Event = field(default_factory=threading.Event)
    answer: tuple[Any, ...] = ()


class WorkerSocket(CameraMoves):
    """What `IngestPool` does with its workers' messages (built on its moves: a move's answers come this way);
    what it uses of the pool is declared here."""

    _on_segment: Callable[[SegmentResult], None]
    on_volume_failed: Callable[[str, str], None]
    on_state: Callable[[str], None]
    on_recorder_left: Callable[[str, int, int], None]
    _requests: dict[int, Request]  # questions asked of the workers (`current_gop`), by request id

    def _camera_at(self, worker: int, index: int) -> _Camera | None:
        return self._slots.get((worker, index))  # one dict read: atomic, no lock needed

    def _closed(self, camera: _Camera, reason: str) -> None:
        """The camera's connection closed (or its worker restarted): its consumers are told, if they were told
        it opened."""
        with self.lock:
            had, camera.info, camera.gop = camera.info, None, []
            consumers = camera.consumers
        if had is not None:
            for consumer in consumers:
                consumer.on_close(reason)

    def _read(self, worker: _Worker, conn: Connection, stopped: threading.Event) -> None:
        try:
            while True:
                try:
                    message = conn.recv_bytes()
                except (EOFError, OSError):
                    return
                if message[:1] == b"P":
                    self._packet(worker.number, message)
                    continue
                body = pickle.loads(message[1:])  # noqa: S301 - our own child, over a private socketpair
                kind = body[0]
                if kind in ("segment", "volume_failed"):  # a volume failed: (path, reason)
                    (self._on_segment if kind == "segment" else self.on_volume_failed)(*body[1:])
                elif kind == "stats":
                    worker.stats = body[1]
                elif kind == "state" and (camera := self._camera_at(worker.number, body[1])) is not None:
                    cid = camera.job.camera_id  # its stream's state changed: (index, state, health snapshot)
                    worker.stats = {**worker.stats, cid: {**worker.stats.get(cid, {}), "state": body[2],
                                                          "health": body[3]}}
                    try:
                        self.on_state(cid)
                    except Exception:  # the socket must be read on whatever a listener does
                        logger.exception("ingest worker %d: a state listener failed", worker.number)
                elif kind == "gop" and (request := self._requests.get(body[1])) is not None:
                    request.answer = body[2:]
                    request.done.set()
                elif kind in ("open", "close", "ready", "left", "recorder_left"):
                    self._about_camera(worker.number, kind, body)
                elif kind == "stopped":
                    return
        except Exception:
            logger.exception("ingest worker %d: reading its socket failed", worker.number)
        finally:
            stopped.set()

    def _about_camera(self, worker: int, kind: str, body: tuple[Any, ...]) -> None:
        """A worker's message about one of its cameras (ignored for a camera removed while its worker was still
        sending)."""
        camera = self._camera_at(worker, body[1])
        if camera is None:
            return
        if kind in ("open", "close"):
            if not self._incoming(camera, worker, body[1], body[2] if kind == "open" else None):
                (self._opened if kind == "open" else self._closed)(camera, body[2])
        elif kind in ("ready", "left"):
            self._move_step(camera, kind, worker, body[1], body[2])
        else:  # "recorder_left": a cluster hand-over (`pool_cluster`)
            self.on_recorder_left(camera.job.camera_id, body[2], body[3])

    def _opened(self, camera: _Camera, fields: tuple[Any, ...]) -> None:
        info = info_of(fields)
        with self.lock:
            camera.info, camera.gop, camera.last, camera.offset = info, [], None, 0
            consumers = camera.consumers
        for consumer in consumers:
            consumer.on_open(info)

    def _packet(self, worker: int, message: bytes) -> None:
        index, pts, dts, wall_us, key = PACKET.unpack_from(message, 1)
        data = message[1 + PACKET.size:]
        pkt = MediaPacket(data, pts, dts, wall_us, bool(key), len(data))
        camera = self._camera_at(worker, index)
        if camera is None:
            return
        announce: StreamInfo | None = None
        with self.lock:
            move = camera.moving
            if move is not None and (worker, index) == (move.worker, move.index):
                out, announce = self._from_target(camera, move, pkt)
            elif camera.info is None or (worker, index) != (camera.worker, camera.index):
                return
            else:
                out = [pkt]
            out = [shifted(p, camera.offset) for p in out]
            for p in out:
                _keep(camera, p)
            consumers = camera.consumers
        for consumer in consumers:
            try:
                if announce is not None:
                    consumer.on_open(announce)
                for p in out:
                    consumer.on_packet(p)
            except Exception:
                logger.exception("live consumer failed", extra={"camera_id": camera.job.camera_id})


def _keep(camera: _Camera, pkt: MediaPacket) -> None:
    """The camera's current GOP (a live snapshot's source) and last packet, as the consumers got them."""
    if pkt.keyframe:
        camera.gop = [pkt]
    elif camera.gop and len(camera.gop) < GOP_LIMIT:
        camera.gop.append(pkt)
    camera.last = pkt
