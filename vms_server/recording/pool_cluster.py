"""A cluster node whose recording runs in ingest worker processes (issue 22): write fencing and make-before-break
hand-overs reach recorders that live in another process.

Fencing: the in-process recorder asks `ClusterService.may_write` before every packet (the camera is owned and the
lease known to hold). A worker cannot ask the main process per packet, so the main process pushes, whenever the
cluster round has changed them (every round: the lease moves on), each owned camera's write deadline: the
CLOCK_MONOTONIC instant its lease is known to hold until (`time.monotonic`, one clock for every process of the
machine on Linux and Windows). The worker's recorders check it locally per packet (`Permits.allows`: a dict read
and a clock read). A main process that stops renewing (stuck, stopped, cut off from the database) stops renewing
the deadline too, so its workers stop writing at the same instant its own recorders would have: nothing has to
reach them for that. A camera no longer owned is pushed at once.

Hand-overs: `ClusterService` drives a recorder through `holds_keyframe`, `leave()`, `leaving`, `left`,
`left_at_us` and `start_from_us`. `PoolRecorder` is the main process's stand-in for a camera's recorder in its
worker: what is set on it is told to the worker (`("recorder_leave", index, generation)`, `("recorder_stay",
index)`, `("recorder_start_from", index, at_us)`), and what the worker's recorder says comes back
(`holds_keyframe` in the once-a-second report; `("recorder_left", index, generation, left_at_us)` as soon as the
recorder has ended its segment at a keyframe, polled in the worker like a move between workers, `pool_move`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vms_server.recording.pool_worker import Outbox, _Running
    from vms_server.recording.recorder import Recorder

logger = logging.getLogger(__name__)
LEFT_POLL_S = 0.02  # the worker's look at a leaving recorder (the next owner holds two GOPs: keep it prompt)
LEFT_WAIT_S = 60.0  # gives up watching (the cluster gives up sooner, `cluster.service.LEAVE_WAIT_S`)
REPORT_STALE_S = 5.0  # a report older than this says nothing of the recorder (its worker is dead or stuck)

WriteDeadlines = dict[str, float]  # camera id -> CLOCK_MONOTONIC deadline (`time.monotonic`)


class Permits:
    """In the worker: which cameras may be written until when, as the main process last pushed it. None (a
    single server): every camera, always; a dict (a cluster node): only the cameras in it, until their deadline."""

    def __init__(self, told: WriteDeadlines | None) -> None:
        self._told = told

    def update(self, told: WriteDeadlines | None) -> None:
        self._told = told  # one reference swap: the ingest threads read either the old or the new dict

    def allows(self, camera_id: str) -> bool:
        """Called per packet on an ingest thread: no I/O, no lock."""
        told = self._told
        if told is None:
            return True
        until = told.get(camera_id)
        return until is not None and time.monotonic() < until

    def checker(self, camera_id: str) -> Callable[[], bool]:
        """A recorder's `may_write` for the camera."""
        def may_write() -> bool:
            return self.allows(camera_id)
        return may_write


def handle_in_worker(message: tuple[Any, ...], running: dict[int, _Running], outbox: Outbox,
                     permits: Permits) -> bool:
    """A cluster message from the main process (see the module docstring); False: not one of them."""
    kind = message[0]
    if kind == "permits":
        permits.update(message[1])
        return True
    if kind not in ("recorder_leave", "recorder_stay", "recorder_start_from"):
        return False
    here = running.get(message[1])
    if here is None:
        if kind == "recorder_leave":  # not recording here (removed, or its worker restarted): nothing to end
            outbox.obj(("recorder_left", message[1], message[2], -1))
        return True
    recorder = here.recorder
    if kind == "recorder_start_from":
        recorder.start_from_us = message[2]
    elif kind == "recorder_stay":  # the hand-over was cancelled: record on
        recorder.leaving, recorder.left_at_us = False, None
    else:
        recorder.leave()
        threading.Thread(target=_report_left, args=(message[1], message[2], here, running, outbox),
                         name="ingest-cluster-leave", daemon=True).start()
    return True


def _report_left(index: int, generation: int, here: _Running, running: dict[int, _Running], outbox: Outbox) -> None:
    """Say where the leaving recorder ended its segment, as soon as it has (or that the camera went meanwhile)."""
    recorder = here.recorder
    deadline = time.monotonic() + LEFT_WAIT_S
    while recorder.left_at_us is None and recorder.leaving and time.monotonic() < deadline:
        if running.get(index) is not here:  # removed or moved to another worker: its segment was finished
            outbox.obj(("recorder_left", index, generation, -1))
            return
        time.sleep(LEFT_POLL_S)
    if recorder.leaving and recorder.left_at_us is not None:
        wait_offload(recorder, deadline - time.monotonic())
        outbox.obj(("recorder_left", index, generation, recorder.left_at_us))


def wait_offload(recorder: Recorder, timeout: float) -> None:
    """Wait (off the reading thread) until the segments a leaving recorder handed to the offload thread have been
    sent (`pool_worker.WorkerRecorder`): a camera's last segment reaches the main process before the answer to
    its leave, as it did when the leave ended it in place."""
    if recorder.offload is not None and not recorder.offload.drain(max(0.1, timeout)):
        logger.warning("a leaving camera's last segment not finished within %.0f s", timeout,
                       extra={"camera_id": recorder.camera_id})


class PoolRecorder:
    """In the main process: a camera's recorder in its ingest worker, as `ClusterService` uses a `Recorder`.
    `tell(kind, *args)` sends a message about the camera to the worker recording it now (False: not in the pool);
    `report()` is the worker's last once-a-second report of it."""

    def __init__(self, tell: Callable[..., bool], report: Callable[[], dict[str, Any]]) -> None:
        self._tell, self._report = tell, report
        self._leaving = False
        self._start_from_us: int | None = None
        self._generation = 0
        self.left_at_us: int | None = None  # where the worker's recorder ended its segment (-1: nothing open)

    @property
    def holds_keyframe(self) -> bool:
        report = self._report()
        sent = report.get("sent_at")
        return bool(report.get("holds_keyframe")) and sent is not None and time.time() - sent <= REPORT_STALE_S

    @property
    def left(self) -> bool:
        return self.left_at_us is not None

    @property
    def leaving(self) -> bool:
        return self._leaving

    @leaving.setter
    def leaving(self, value: bool) -> None:
        """False cancels a hand-over: the worker's recorder records on (what the cluster does on a `Recorder`)."""
        if self._leaving and not value:
            self._generation += 1  # a late answer to the cancelled leave is not taken for this one
            self._tell("recorder_stay")
        self._leaving = value

    @property
    def start_from_us(self) -> int | None:
        return self._start_from_us

    @start_from_us.setter
    def start_from_us(self, value: int | None) -> None:
        """Told to the worker before the write permission that lets the recorder start (both go over its one
        socket, in order)."""
        self._start_from_us = value
        self._tell("recorder_start_from", value)

    def leave(self) -> None:
        """Ask the worker's recorder to end its segment at the next keyframe; `left_at_us` is set when it says
        where (`Recorder.leave`)."""
        if self._leaving:
            return
        self.left_at_us = None
        self._leaving = True
        self._generation += 1
        if not self._tell("recorder_leave", self._generation):
            self.left_at_us = -1  # not in the pool: nothing open, nothing coming

    def on_left(self, generation: int, left_at_us: int) -> None:
        """The worker's answer (on a pool reader thread)."""
        if self._leaving and generation == self._generation and self.left_at_us is None:
            self.left_at_us = left_at_us
