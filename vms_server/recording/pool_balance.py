"""Keeping the ingest workers even (issue 22): which cameras to move (`plan_moves`), and the thread that moves
them one at a time in the server (`Rebalancer`), by itself after the pool changed or when an administrator asks.

A worker's load is the sum of its cameras' bitrates as the workers report them once a second (`bitrate_kbps`):
the profile of a worker at 128 cameras had 85 % of its samples in FFmpeg's RTSP/RTP demuxer, whose work goes by RTP
packets, and a camera sends about one per 1.4 kB, so a 4K camera at 16 Mbit/s costs some 30 times a CIF one at
0.5 Mbit/s where a count would call them equal. A camera without a figure yet (just added or moved, not reported)
or not streaming (offline: it costs its bitrate again once it is back) counts as the average of those reported;
with none reported every camera counts 1, which is a plain count.

A move is planned only when it lowers the gap between the heaviest and the lightest worker by at least one average
camera, so with cameras of one size it is the count rule (the fullest worker has more than the emptiest + 1) and a
bitrate that wobbles between two reports does not move a camera to and fro.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vms_server.recording.pool import IngestPool

logger = logging.getLogger(__name__)
LOAD_FIGURE = "bitrate_kbps"


@dataclass(frozen=True)
class PlannedMove:
    camera_id: str
    source: int
    target: int


@dataclass(frozen=True)
class WorkerState:
    """One worker as the API shows it (`IngestPool.worker_states`)."""

    number: int
    pid: int | None
    restarts: int
    cameras: list[str]
    load: float  # the sum of its cameras' weights (`LOAD_FIGURE`)


def camera_weights(cameras: Mapping[int, list[str]], reports: Mapping[str, Any]) -> dict[int, dict[str, float]]:
    """Worker -> camera -> weight (`LOAD_FIGURE` of an online camera's last report; see the module docstring)."""
    known: dict[str, float] = {}
    for ids in cameras.values():
        for camera_id in ids:
            health = (reports.get(camera_id) or {}).get("health") or {}
            kbps = float(health.get(LOAD_FIGURE) or 0.0)
            if health.get("state") == "online" and kbps > 0:
                known[camera_id] = kbps
    average = sum(known.values()) / len(known) if known else 1.0
    if not known:
        return {w: dict.fromkeys(ids, 1.0) for w, ids in cameras.items()}
    return {w: {c: known.get(c, average) for c in ids} for w, ids in cameras.items()}


def plan_moves(
    weights: Mapping[int, Mapping[str, float]], limit: int, skip: frozenset[str] = frozenset()
) -> list[PlannedMove]:
    """Moves, in order, from the heaviest worker to the lightest, each of the camera that evens the two best, while
    a move lowers their gap by at least one average camera (`skip`: cameras not to move). Every move lowers the sum
    of the squared loads, so the list ends."""
    work = {w: dict(cams) for w, cams in weights.items()}
    every = [v for cams in work.values() for v in cams.values()]
    unit = sum(every) / len(every) if every else 0.0
    moves: list[PlannedMove] = []
    while len(moves) < limit and len(work) > 1 and unit > 0:
        totals = {w: sum(cams.values()) for w, cams in work.items()}
        heavy = max(totals, key=lambda w: (totals[w], -w))
        light = min(totals, key=lambda w: (totals[w], w))
        gap = totals[heavy] - totals[light]
        movable = [(c, v) for c, v in work[heavy].items() if c not in skip]
        if not movable:
            break
        # The gap after moving each: the smallest wins, the last added on a tie (the oldest stay where they are).
        camera_id, weight = min(reversed(movable), key=lambda cv: abs(gap - 2 * cv[1]))
        if abs(gap - 2 * weight) > gap - unit + 1e-9 * unit:
            break
        work[light][camera_id] = work[heavy].pop(camera_id)
        moves.append(PlannedMove(camera_id, heavy, light))
    return moves


class Rebalancer:
    """One thread, so moves never overlap: after the pool changed (a camera added or removed, a worker restarted) it
    waits `settle_s` from the last change (0: never by itself), then moves one planned camera and waits again; an
    administrator's move or rebalance (the API) is queued and runs at once. A camera whose move failed (its camera
    would not take a second connection, say) is not planned again until it leaves the pool."""

    def __init__(self, pool: IngestPool, settle_s: float) -> None:
        self._pool, self.settle_s = pool, settle_s
        self._cond = threading.Condition()
        self._due: float | None = None
        self._asked: deque[PlannedMove | None] = deque()  # a move, or None: rebalance all
        self._stopping = False
        self._busy = False
        self._current: PlannedMove | None = None  # the move this thread is making
        self.failed: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="ingest-rebalance", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Nothing starts after this; a move under way is ended by the pool's stop (`IngestPool.stop`)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def join(self, timeout: float = 30.0) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def changed(self, why: str) -> None:
        """The pool changed: look again once it has been quiet for `settle_s`."""
        with self._pool.lock:
            present = set(self._pool.cameras)
        with self._cond:
            self.failed &= present
            if self.settle_s > 0 and not self._stopping:
                self._due = time.monotonic() + self.settle_s
                self._cond.notify_all()
        logger.debug("ingest pool changed (%s): balance looked at in %.0f s", why, self.settle_s)

    def pending(self) -> list[PlannedMove]:
        """The moves under way (here, or a direct `IngestPool.move`) and those asked for that have not started."""
        with self._cond:
            mine = [m for m in (self._current, *self._asked) if m is not None]
        return list(dict.fromkeys(self._pool.moves_in_progress() + mine))

    def ask(self, move: PlannedMove | None = None) -> bool:
        """Queue an administrator's move (or, with None, a whole rebalance); False if busy or stopping."""
        with self._cond:
            if self._stopping or self._busy or self._asked or self._pool.moves_in_progress():
                return False
            self._asked.append(move)
            self._cond.notify_all()
            return True

    def _next(self) -> tuple[bool, PlannedMove | None] | None:
        """What to do next: (asked, the move or None for a rebalance); None when stopping."""
        with self._cond:
            while not self._stopping:
                if self._asked:
                    self._busy, self._current = True, self._asked[0]
                    return True, self._asked.popleft()
                now = time.monotonic()
                if self._due is not None and now >= self._due:
                    self._due, self._busy = None, True
                    return False, None
                self._cond.wait(None if self._due is None else self._due - now)
            return None

    def _run(self) -> None:
        while (step := self._next()) is not None:
            asked, what = step
            try:
                if asked and what is not None:
                    self._move(what, "asked")
                elif asked:
                    while self._step("asked") and not self._stopped():
                        pass
                elif self._pool.moves_in_progress():
                    self.changed("a move is under way")  # never two at once: look again later
                elif self._step("automatic"):
                    self.changed("moved a camera")  # one at a time: the reports catch up before the next
            except Exception:
                logger.exception("rebalancing the ingest workers failed")
            finally:
                with self._cond:
                    self._busy, self._current = False, None

    def _stopped(self) -> bool:
        with self._cond:
            return self._stopping

    def plan(self, limit: int) -> list[PlannedMove]:
        """The moves a rebalance would make now, leaving out the cameras whose move failed."""
        with self._cond:
            skip = frozenset(self.failed)
        return self._pool.plan(limit=limit, skip=skip)

    def _step(self, why: str) -> bool:
        """Move the first planned camera; False when none is planned or the move failed."""
        plan = self.plan(limit=1)
        if not plan or self._stopped():
            return False
        if self._move(plan[0], why):
            return True
        with self._pool.lock:
            present = plan[0].camera_id in self._pool.cameras
        if present and not self._stopped():  # not a camera removed during its move
            with self._cond:
                self.failed.add(plan[0].camera_id)
        return False

    def _move(self, move: PlannedMove, why: str) -> bool:
        with self._cond:
            self._current = move
        logger.info(
            "rebalancing the ingest workers (%s): camera %s from worker %d to %d",
            why,
            move.camera_id,
            move.source,
            move.target,
            extra={"camera_id": move.camera_id},
        )
        try:
            return self._pool.move(move.camera_id, move.target)
        except (KeyError, ValueError) as exc:  # removed meanwhile, or the pool changed under the request
            logger.info("camera %s not moved: %s", move.camera_id, exc, extra={"camera_id": move.camera_id})
            return False
