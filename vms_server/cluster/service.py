"""The cluster service (`app[CLUSTER]`): this node's lease, the assignment round, and the cameras it records.

Each heartbeat: renew the lease; try the coordinator round (one node at a time, see `assign.py`); read the
cameras assigned to this node; stop and pass on those the round asked it to hand over; tell ingest when the set
changed. Ingest connects only the cameras `owns` admits; the recorder writes only while `may_write` holds (the
camera is owned and the lease is known to hold; recorders in ingest worker processes are told each camera's
deadline instead, every round, `_push_permits`); the index refuses a segment from a node that has lost the camera
(`admit`). Off by default: a single server with SQLite never builds this service.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_common.aio import cancel_and_wait
from vms_common.tls import ensure_certificate
from vms_server import keys
from vms_server.api.keys import HUB
from vms_server.cluster import assign, membership
from vms_server.cluster.keys import CLUSTER
from vms_server.cluster.live import LiveProxy
from vms_server.cluster.models import CameraAssignment
from vms_server.cluster.relay import HubRelay
from vms_server.cluster.remote import NodeLinks, RemoteFootage, SegmentLinks
from vms_server.cluster.settings import ClusterSettings
from vms_server.ingest.keys import INGEST
from vms_server.ingest.service import IngestService
from vms_server.playback.keys import PLAYBACK
from vms_server.recording.keys import RECORDER
from vms_server.recording.pool_cluster import PoolRecorder
from vms_server.recording.recorder import Recorder
from vms_server.recording.segments import SegmentResult
from vms_server.recording.service import RecordingService
from vms_server.security.keystore import load_master_secret
from vms_server.settings import SettingsError

logger = logging.getLogger(__name__)
# A segment that ended this long after its camera moved away is refused at indexing (clock skew between nodes).
CLOCK_SLACK = dt.timedelta(seconds=2)
FENCED_SUFFIX = ".fenced"
INCOMING_POLL_S = 0.2  # round period while a hand-over to or from this node is pending
LEAVE_WAIT_S = 6.0  # longest wait for a leaving camera's keyframe (GOPs of real cameras reach 4-5 s)
READY_WAIT_S = 15.0  # longest wait for the next owner to connect and hold a keyframe


class ClusterService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: ClusterSettings, node_id: str,
                 url: str, volumes: list[Path], ingest: IngestService,
                 recording: RecordingService | None = None) -> None:
        self._sessions, self.settings, self.node_id, self.url = sessions, settings, node_id, url
        self._volumes, self._ingest, self._recording = volumes, ingest, recording
        self._leaving: dict[uuid.UUID, float] = {}  # camera being handed away -> monotonic give-up time
        self._announced: set[uuid.UUID] = set()  # incoming cameras this node said it is ready for
        self.remote: RemoteFootage | None = None  # other nodes' segments for playback here (set at start-up)
        self.live: LiveProxy | None = None  # live view of other nodes' cameras through this one (set at start-up)
        self.capacity = membership.capacity_of(settings.max_cameras, ingest.enabled)
        self.owned: dict[uuid.UUID, int] = {}  # camera -> fencing token held
        # Cameras being handed over to this node: connected ahead (not written) and polled for quickly, so the
        # gap of a hand-over is a short poll and a keyframe rather than a heartbeat and an RTSP connect.
        self.incoming: set[uuid.UUID] = set()
        self.lease_ok_until = 0.0  # monotonic; past it this node must assume its cameras are being taken
        self.tls_fingerprint = ""  # of the certificate this node serves, published for the others to pin
        self.rounds = 0
        self.last_error: str | None = None
        self._first = True
        self._task: asyncio.Task[None] | None = None

    # --- hooks given to ingest and recording ----------------------------------------------------------
    def owns(self, camera_id: uuid.UUID) -> bool:
        return camera_id in self.owned or camera_id in self.incoming

    def may_write(self, camera_id: uuid.UUID) -> bool:
        """Called by the recorder on an ingest thread for every packet: cheap, no I/O."""
        return camera_id in self.owned and time.monotonic() < self.lease_ok_until

    async def admit(self, session: AsyncSession, results: list[SegmentResult]) -> list[SegmentResult]:
        """The segments the index may take, inside the indexer's transaction (rows held FOR SHARE until it
        commits, so a reassignment cannot slip between the check and the insert). A segment of a camera that
        has moved to another node is kept only if it ended before the move; the others are renamed `.fenced`
        (never indexed, never recovered) and logged."""
        ids = {uuid.UUID(r.camera_id) for r in results}
        rows = {row.camera_id: row for row in (await session.scalars(
            select(CameraAssignment).where(CameraAssignment.camera_id.in_(ids)).with_for_update(read=True))).all()}
        keep: list[SegmentResult] = []
        for result in results:
            row = rows.get(uuid.UUID(result.camera_id))
            if row is None or row.node_id == self.node_id or result.end <= row.assigned_at + CLOCK_SLACK:
                keep.append(result)
                continue
            logger.warning("segment %s of camera %s refused: the camera belongs to %s since %s (fenced)",
                           result.path, result.camera_id, row.node_id, row.assigned_at)
            await asyncio.to_thread(_fence_file_blocking, Path(result.volume) / result.path)
        return keep

    # --- life cycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Register and take part in one round before ingest connects, so it connects only this node's cameras."""
        await self.round()
        await self._check_volumes()
        self._task = asyncio.create_task(self._loop())

    async def _check_volumes(self) -> None:
        """Say loudly when a live node reports a volume path this node also uses: the index tells segments apart
        by volume path, so each node would take the other's files for missing ones (docs/cluster.md)."""
        mine = {str(p) for p in self._volumes}
        async with self._sessions() as session:
            for node in await assign.live_nodes(session):
                shared = mine & {str(d.get("path")) for d in node.disks} if node.id != self.node_id else set()
                if shared:
                    logger.error("node %s records into %s too: give every node volume paths of its own",
                                 node.id, ", ".join(sorted(shared)))

    async def close(self) -> None:
        await cancel_and_wait([self._task])
        self.owned.clear()
        self.lease_ok_until = 0.0
        self._push_permits()
        try:
            async with self._sessions.begin() as session:
                await membership.resign(session, self.node_id)
        except Exception:
            logger.exception("cannot end the lease of %s; the others wait for it to run out", self.node_id)

    async def _loop(self) -> None:
        period = self.settings.heartbeat_s
        while True:
            started = time.monotonic()
            try:
                await self.round()
                self.last_error = None
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                logger.exception("cluster round failed on %s", self.node_id)
            wait = min(period, INCOMING_POLL_S) if self.incoming or self._leaving else period
            await asyncio.sleep(max(0.05, wait - (time.monotonic() - started)))

    async def round(self) -> None:
        """Renew, coordinate, then follow the assignment rows."""
        started = time.monotonic()
        disks = await asyncio.to_thread(membership.disks_blocking, self._volumes)
        async with self._sessions.begin() as session:
            await membership.renew(session, self.node_id, lease_s=self.settings.lease_s, url=self.url,
                                   capacity=self.capacity, disks=disks, cameras=len(self.owned),
                                   sites=[str(s) for s in self.settings.sites], first=self._first,
                                   tls_fingerprint=self.tls_fingerprint)
        # The lease counts from before the renewal was sent; a heartbeat's worth of margin more, so this node
        # stops writing before any other can see the lease expire.
        self.lease_ok_until = started + self.settings.lease_s - self.settings.heartbeat_s
        self._push_permits()  # the ingest workers' deadline moves on with it, even if the rest of the round fails
        self._first = False
        async with self._sessions.begin() as session:
            await assign.coordinate(session, self.settings.max_moves_per_round)
        async with self._sessions() as session:
            mine = await assign.owned_by(session, self.node_id)
            incoming = await assign.incoming_to(session, self.node_id)
        await self._follow(mine, incoming)
        self.rounds += 1

    async def _follow(self, mine: list[assign.Owned], incoming: set[uuid.UUID]) -> None:
        """Make-before-break: a camera asked of this node keeps recording here until its recorder has ended the
        segment at a keyframe (or `LEAVE_WAIT_S` ran out); the row then carries that keyframe to the next owner,
        which has been connected ahead and starts its first segment at the same keyframe from what it holds."""
        leaving = {o.camera_id: o for o in mine if o.moving_to is not None}
        wanted = {o.camera_id: o.token for o in mine if o.moving_to is None}
        # Arrived by a hand-over (perhaps already asked to move on): told before `may_write` lets it start.
        for owned in mine:
            if owned.camera_id in self.incoming and owned.camera_id not in self.owned:
                recorder = self._recorder(owned.camera_id)
                if recorder is not None:
                    recorder.start_from_us = owned.handed_at_us
        await self._announce_ready(incoming)
        ready: list[tuple[assign.Owned, int | None]] = []
        now = time.monotonic()
        for camera_id, owned in leaving.items():
            recorder = self._recorder(camera_id)
            # Wait for the next owner to hold a keyframe (`READY_WAIT_S` at most: a node that cannot reach the
            # camera must not keep it here), then for this recorder to end at the next keyframe.
            deadline = self._leaving.setdefault(camera_id, now + READY_WAIT_S + LEAVE_WAIT_S)
            if recorder is not None and not recorder.leaving and (
                    owned.moving_ready or now >= deadline - LEAVE_WAIT_S):
                recorder.leave()
            if recorder is None or recorder.left or now >= deadline:
                ended = recorder.left_at_us if recorder is not None else None
                ready.append((owned, ended if ended is not None and ended >= 0 else None))
            else:
                wanted[camera_id] = owned.token  # still this node's until the keyframe
        for camera_id in [c for c in self._leaving if c not in leaving]:
            del self._leaving[camera_id]
            recorder = self._recorder(camera_id)
            if recorder is not None and camera_id in wanted:  # the hand-over was cancelled: record on
                recorder.leaving, recorder.left_at_us = False, None
        changed = set(wanted) | incoming != set(self.owned) | self.incoming
        self.owned, self.incoming = wanted, incoming
        self._push_permits()  # the lease moved on, and perhaps the cameras: before a hand-over is passed on
        # Passed on before the camera is disconnected here: its recorder has closed its last segment (or, out
        # of `owned` now, writes nothing more), and the next owner holds only the last two GOPs to start from.
        for owned, ended in ready:
            self._leaving.pop(owned.camera_id, None)
            async with self._sessions.begin() as session:
                if await assign.hand_over(session, self.node_id, owned, ended):
                    logger.info("camera %s handed over to %s (footage ends at %s)", owned.camera_id,
                                owned.moving_to, ended)
        if changed or ready:
            await self._sync_ingest()

    async def _announce_ready(self, incoming: set[uuid.UUID]) -> None:
        """Cameras on their way here whose recorder now holds a keyframe: say so once, so the owner stops."""
        self._announced &= incoming
        holding = {c for c in incoming - self._announced
                   if (recorder := self._recorder(c)) is not None and recorder.holds_keyframe}
        if holding:
            async with self._sessions.begin() as session:
                await assign.ready_for(session, self.node_id, holding)
            self._announced |= holding

    def _recorder(self, camera_id: uuid.UUID) -> Recorder | PoolRecorder | None:
        return self._recording.handover_recorder(camera_id) if self._recording is not None else None

    def _push_permits(self) -> None:
        """`may_write` for recorders in ingest worker processes, which cannot call it per packet: each owned
        camera until the lease's deadline (CLOCK_MONOTONIC, the same in every process of the machine), so a
        worker stops at the same instant as `may_write` would, even if nothing more reaches it."""
        if self._recording is not None:
            self._recording.write_permits(dict.fromkeys(self.owned, self.lease_ok_until))

    async def _sync_ingest(self) -> None:
        if self._ingest.enabled:
            await self._ingest.sync()


def _fence_file_blocking(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rename(path.with_name(path.name + FENCED_SUFFIX))


def own_volumes(recorder: RecordingService) -> set[str]:
    """Volume paths this node writes to (its fallback too): index rows elsewhere are other nodes' footage."""
    fallback = recorder.volumes.fallback
    return {str(v.path) for v in recorder.volumes.volumes} | ({str(fallback.path)} if fallback is not None else set())


def advertised_url(app: web.Application) -> str:
    settings = app[keys.SETTINGS]
    if settings.cluster.advertise_url:
        return settings.cluster.advertise_url
    if settings.server.public_url:
        return settings.server.public_url
    scheme = "http" if settings.server.tls.mode == "off" else "https"
    return f"{scheme}://{settings.server.host}:{settings.server.port}"


async def cluster_context(app: web.Application) -> AsyncIterator[None]:
    """After the consumers of ingest and before ingest connects cameras. Without `[cluster] enabled` nothing
    happens: every enabled camera is recorded here, as on a single server."""
    settings = app[keys.SETTINGS]
    if not settings.cluster.enabled:
        yield
        return
    if app[keys.ENGINE].dialect.name != "postgresql":
        raise SettingsError("cluster.enabled needs a PostgreSQL database shared by the nodes "
                            "(database.url = postgresql+asyncpg://...)")
    recorder = app[RECORDER]
    node_id = await asyncio.to_thread(membership.node_id_of, settings.data_dir, settings.cluster.node_id)
    service = ClusterService(app[keys.SESSIONS], settings.cluster, node_id, advertised_url(app),
                             [v.path for v in recorder.volumes.volumes], app[INGEST], recorder)
    # The certificate `run` serves (made already, before the listener); the other nodes pin it.
    served = await asyncio.to_thread(ensure_certificate, settings.server.tls, settings.data_dir)
    service.tls_fingerprint = served or ""
    master = await asyncio.to_thread(load_master_secret, settings.data_dir, settings.security.key_store)
    service.remote = RemoteFootage(app[keys.SESSIONS], node_id, own_volumes(recorder),
                                   settings.data_dir / "cluster-cache", SegmentLinks(master))
    app[PLAYBACK].remote = service.remote
    service.live = app[PLAYBACK].live_proxy = LiveProxy(app[keys.SESSIONS], node_id, NodeLinks(master, "live-link"),
                                                        settings.data_dir / "cluster-cache")
    app[INGEST].owns = service.owns
    recorder.may_write = service.may_write
    recorder.write_permits({})  # ingest workers write nothing until a round says what this node owns
    recorder.admit = service.admit
    recorder.own_volumes_only = True
    app[CLUSTER] = service
    logger.info("cluster node %s joining (lease %.1f s)", node_id, settings.cluster.lease_s)
    relay = None
    if settings.config_cache.redis_url:  # the Redis the nodes share: one queue of pushed messages for all
        relay = HubRelay(app[HUB], settings.config_cache.redis_url, node_id)
        await relay.start()
    try:
        await service.start()
        yield
    finally:
        await service.close()
        if relay is not None:
            await relay.close()
