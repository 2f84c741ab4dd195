"""HTTP routes of recording: stream status, policies, event triggers, evidence locks, retention and the ingest
worker processes (issue 22: their cameras and load, and moving cameras between them)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.principal import Principal
from vms_common.auth.roles import Role
from vms_common.errors import Conflict, InvalidInput, NotFound
from vms_server import keys
from vms_server.api.context import actor_of
from vms_server.audit.service import record
from vms_server.cameras.models import Camera
from vms_server.cameras.service import get_camera
from vms_server.ingest.keys import INGEST
from vms_server.recording.keys import RECORDER
from vms_server.recording.models import CustomerRetention, EvidenceLock, RecordingPolicy
from vms_server.recording.pool_balance import PlannedMove
from vms_server.recording.pool_ingest import PoolRecording
from vms_server.recording.schemas import (
    CameraStatus,
    IngestMoveOut,
    IngestWorkerOut,
    IngestWorkersOut,
    LockIn,
    LockOut,
    LockPage,
    LockQuery,
    MoveIn,
    PolicyIn,
    PolicyOut,
    RebalanceOut,
    RetentionIn,
    RetentionOut,
    TriggerIn,
    TriggerOut,
)

router = ApiRouter()
TAGS = ["recording"]


@router.route("GET", "/cameras/{camera_id}/status", role=Role.VIEWER, response=CameraStatus, tags=TAGS,
              errors=(404,))
async def camera_status(call: Call[NoBody]) -> CameraStatus:
    """Health of each stream of a camera (also pushed as `camera.status` on /api/v1/ws)."""
    camera_id = call.path_uuid("camera_id")
    async with call.app[keys.SESSIONS]() as session:
        await get_camera(session, camera_id, call.user)
    body = call.app[INGEST].status(camera_id)  # the same body `camera.status` pushes
    if body is None:
        return CameraStatus(camera_id=camera_id, recording=False, streams=[])
    return CameraStatus.model_validate(body)


def _policy_out(camera_id: object, row: RecordingPolicy | None) -> PolicyOut:
    if row is None:
        return PolicyOut.model_validate({"camera_id": camera_id})
    return PolicyOut.model_validate({"camera_id": camera_id, **{
        name: getattr(row, name) for name in PolicyIn.model_fields}})


@router.route("GET", "/cameras/{camera_id}/recording-policy", role=Role.VIEWER, response=PolicyOut, tags=TAGS,
              errors=(404,))
async def get_policy(call: Call[NoBody]) -> PolicyOut:
    """How a camera records (modes, schedule, pre/post-roll, retention override)."""
    camera_id = call.path_uuid("camera_id")
    async with call.app[keys.SESSIONS]() as session:
        await get_camera(session, camera_id, call.user)
        return _policy_out(camera_id, await session.get(RecordingPolicy, camera_id))


@router.route("PUT", "/cameras/{camera_id}/recording-policy", role=Role.ADMIN, body=PolicyIn, response=PolicyOut,
              tags=TAGS, errors=(404, 422))
async def put_policy(call: Call[PolicyIn]) -> PolicyOut:
    """Replace a camera's recording policy; applied at once."""
    camera_id = call.path_uuid("camera_id")
    async with call.app[keys.SESSIONS].begin() as session:
        camera = await get_camera(session, camera_id, call.user)
        if call.body.motion and call.body.motion_source == "onvif" and not camera.onvif_url:
            raise InvalidInput("motion_source onvif needs the camera's ONVIF address (onvif_url); add the camera "
                               "with POST /cameras/from-onvif or set onvif_url", code="no_onvif_address")
        row = await session.get(RecordingPolicy, camera_id)
        old = _policy_out(camera_id, row).model_dump(mode="json")
        if row is None:
            row = RecordingPolicy(camera_id=camera_id)
            session.add(row)
        for name, value in call.body.model_dump(mode="json").items():
            setattr(row, name, value)
        out = _policy_out(camera_id, row)
        await record(session, actor_of(call), "recording.policy_changed", target_type="camera",
                     target_id=camera_id, old=old, new=out.model_dump(mode="json"))
    await call.app[RECORDER].policy_changed(camera_id)
    return out


@router.route("POST", "/cameras/{camera_id}/recording/trigger", role=Role.SUPERVISOR, body=TriggerIn,
              response=TriggerOut, tags=TAGS, errors=(404, 422))
async def trigger(call: Call[TriggerIn]) -> TriggerOut:
    """Start event recording now (with pre-roll from memory), as analytics do."""
    camera_id = call.path_uuid("camera_id")
    async with call.app[keys.SESSIONS]() as session:
        await get_camera(session, camera_id, call.user)
    body = call.body
    return TriggerOut(recording=call.app[RECORDER].trigger(camera_id, body.reason, body.pre_s, body.post_s))


def _cameras_of_sites(site_ids: frozenset[uuid.UUID]) -> Select[Any]:
    """Ids of the cameras on these sites: a lock is as confidential as its camera's footage (its reason too)."""
    return select(Camera.id).where(Camera.site_id.in_(site_ids))


async def _may_see_lock(session: AsyncSession, lock: EvidenceLock, who: Principal) -> bool:
    """Site-restricted users see locks of their sites' cameras only (a lock of a deleted camera: nobody's)."""
    if who.site_ids is None:
        return True
    camera = await session.get(Camera, lock.camera_id)
    return camera is not None and who.can_see_site(camera.site_id)


def _lock_out(lock: EvidenceLock) -> LockOut:
    return LockOut(id=lock.id, camera_id=lock.camera_id, start=lock.start_at, end=lock.end_at, reason=lock.reason,
                   created_by=lock.created_by, created_at=lock.created_at)


@router.route("POST", "/evidence-locks", role=Role.SUPERVISOR, body=LockIn, response=LockOut, status=201,
              tags=TAGS, errors=(404, 422))
async def create_lock(call: Call[LockIn]) -> LockOut:
    """Protect a camera's footage in a time range from retention and space cleanup."""
    async with call.app[keys.SESSIONS].begin() as session:
        camera = await get_camera(session, call.body.camera_id, call.user)
        if call.body.end <= call.body.start:
            # An empty period holds no footage to protect: nothing there (404), as for an export.
            raise NotFound("no footage in an empty range (end is not after start)")
        lock = EvidenceLock(camera_id=camera.id, customer_id=camera.customer_id, start_at=call.body.start,
                            end_at=call.body.end, reason=call.body.reason, created_by=call.user.username)
        session.add(lock)
        await session.flush()
        out = _lock_out(lock)
        await record(session, actor_of(call), "recording.evidence_locked", target_type="camera",
                     target_id=camera.id, new=out.model_dump(mode="json"))
        return out


@router.route("GET", "/evidence-locks", role=Role.VIEWER, query=LockQuery, response=LockPage, tags=TAGS,
              errors=(422,))
async def list_locks(call: Call[NoBody]) -> LockPage:
    """Evidence locks of the caller's customer (optionally of one camera)."""
    query = call.query(LockQuery)
    stmt = select(EvidenceLock).where(EvidenceLock.customer_id == call.user.customer_id)
    if call.user.site_ids is not None:
        stmt = stmt.where(EvidenceLock.camera_id.in_(_cameras_of_sites(call.user.site_ids)))
    if query.camera_id is not None:
        stmt = stmt.where(EvidenceLock.camera_id == query.camera_id)
    async with call.app[keys.SESSIONS]() as session:
        rows = (await session.scalars(stmt.order_by(EvidenceLock.start_at).limit(1000))).all()
        return LockPage(items=[_lock_out(r) for r in rows])


@router.route("DELETE", "/evidence-locks/{lock_id}", role=Role.ADMIN, status=204, tags=TAGS, errors=(404,))
async def delete_lock(call: Call[NoBody]) -> None:
    """Release an evidence lock (the footage then ages out normally)."""
    async with call.app[keys.SESSIONS].begin() as session:
        lock = await session.get(EvidenceLock, call.path_uuid("lock_id"))
        if lock is None or lock.customer_id != call.user.customer_id or not await _may_see_lock(
                session, lock, call.user):
            raise NotFound("no such evidence lock")
        old = _lock_out(lock).model_dump(mode="json")
        await session.delete(lock)
        await record(session, actor_of(call), "recording.evidence_unlocked", target_type="camera",
                     target_id=lock.camera_id, old=old)


@router.route("GET", "/recording/retention", role=Role.VIEWER, response=RetentionOut, tags=TAGS)
async def get_retention(call: Call[NoBody]) -> RetentionOut:
    """The caller's customer retention (override and per event type) and the system default."""
    async with call.app[keys.SESSIONS]() as session:
        row = await session.get(CustomerRetention, call.user.customer_id)
    system = call.app[keys.SETTINGS].recording.retention_days
    if row is None:
        return RetentionOut(system_retention_days=system)
    return RetentionOut(retention_days=row.retention_days, event_retention_days=row.event_retention_days,
                        system_retention_days=system)


@router.route("PUT", "/recording/retention", role=Role.ADMIN, every_site=True,
              body=RetentionIn, response=RetentionOut, tags=TAGS,
              errors=(422,))
async def put_retention(call: Call[RetentionIn]) -> RetentionOut:
    """Set the customer's retention override and per-event-type retention."""
    async with call.app[keys.SESSIONS].begin() as session:
        row = await session.get(CustomerRetention, call.user.customer_id)
        old = None if row is None else {"retention_days": row.retention_days,
                                         "event_retention_days": row.event_retention_days}
        if row is None:
            row = CustomerRetention(customer_id=call.user.customer_id)
            session.add(row)
        row.retention_days = call.body.retention_days
        row.event_retention_days = dict(call.body.event_retention_days)
        await record(session, actor_of(call), "recording.retention_changed", target_type="customer",
                     target_id=call.user.customer_id, old=old, new=call.body.model_dump(mode="json"))
    system = call.app[keys.SETTINGS].recording.retention_days
    return RetentionOut(**call.body.model_dump(), system_retention_days=system)


def _pool(call: Call[Any]) -> PoolRecording:
    """The ingest worker pool; 409 when cameras are recorded in the server's own process."""
    pool = call.app[RECORDER].pool
    if pool is None:
        raise Conflict("ingest workers are off (recording.ingest_workers = 0, or recording is disabled): cameras "
                       "are recorded in the server's own process", code="ingest_workers_off")
    return pool


def _move_out(move: PlannedMove) -> IngestMoveOut:
    return IngestMoveOut(camera_id=uuid.UUID(move.camera_id), from_worker=move.source, to_worker=move.target)


@router.route("GET", "/recording/workers", role=Role.ADMIN, every_site=True, response=IngestWorkersOut, tags=TAGS)
async def list_workers(call: Call[NoBody]) -> IngestWorkersOut:
    """The ingest worker processes: pid, restarts, cameras and load of each, and the moves under way (none and
    an empty list when cameras are recorded in the server's own process)."""
    settings = call.app[keys.SETTINGS].recording
    pool = call.app[RECORDER].pool
    if pool is None:
        return IngestWorkersOut(ingest_workers=0, rebalance_after_s=settings.ingest_rebalance_s,
                                moves_in_progress=[], workers=[])
    runtimes = call.app[INGEST].runtimes
    customer = call.user.customer_id

    def mine(camera_id: str) -> bool:
        runtime = runtimes.get(uuid.UUID(camera_id))
        return runtime is not None and runtime.spec.customer_id == customer

    states = pool.pool.worker_states()
    return IngestWorkersOut(
        ingest_workers=len(states), rebalance_after_s=settings.ingest_rebalance_s,
        moves_in_progress=[_move_out(m) for m in pool.balancer.pending() if mine(m.camera_id)],
        workers=[IngestWorkerOut(number=w.number, pid=w.pid, restarts=w.restarts, cameras=len(w.cameras),
                                 camera_ids=[uuid.UUID(c) for c in w.cameras if mine(c)], load=w.load)
                 for w in states])


@router.route("POST", "/recording/workers/rebalance", role=Role.ADMIN, every_site=True, response=RebalanceOut,
              status=202, tags=TAGS, errors=(409,))
async def rebalance_workers(call: Call[NoBody]) -> RebalanceOut:
    """Even the ingest workers out now: cameras move one at a time, each at a keyframe without a gap, from the
    most loaded worker to the least (by bitrate) while that evens them out. Answers at once with the moves
    planned; 409 while a move is under way or when there are no ingest workers."""
    pool = _pool(call)
    planned = pool.balancer.plan(limit=len(pool.pool.cameras))
    if not pool.balancer.ask(None):
        raise Conflict("a camera is being moved between ingest workers; ask again when it is done",
                       code="move_in_progress")
    out = RebalanceOut(moves=[_move_out(m) for m in planned])
    async with call.app[keys.SESSIONS].begin() as session:
        await record(session, actor_of(call), "recording.workers_rebalanced", new=out.model_dump(mode="json"))
    return out


@router.route("POST", "/recording/cameras/{camera_id}/move", role=Role.ADMIN, every_site=True, body=MoveIn,
              response=IngestMoveOut, status=202, tags=TAGS, errors=(404, 409, 422))
async def move_camera(call: Call[MoveIn]) -> IngestMoveOut:
    """Move a camera to another ingest worker (at a keyframe, without a gap; a few seconds, during which the
    camera has a second connection). Answers at once; 409 when the camera is not recorded by a worker, is there
    already, or a move is under way; 422 for a worker that does not exist."""
    camera_id = call.path_uuid("camera_id")
    async with call.app[keys.SESSIONS]() as session:
        await get_camera(session, camera_id, call.user)
    pool = _pool(call)
    workers = pool.pool.worker_count()
    if call.body.worker >= workers:
        raise InvalidInput(f"no ingest worker {call.body.worker}: there are {workers} (0 to {workers - 1})",
                           code="no_such_worker")
    source = pool.worker_of(camera_id)
    if source is None:
        raise Conflict("the camera is not recorded by an ingest worker (disabled, not started, or no volume)",
                       code="not_in_pool")
    if source == call.body.worker:
        raise Conflict(f"the camera is on ingest worker {source} already", code="already_there")
    move = PlannedMove(str(camera_id), source, call.body.worker)
    if not pool.balancer.ask(move):
        raise Conflict("a camera is being moved between ingest workers; ask again when it is done",
                       code="move_in_progress")
    out = _move_out(move)
    async with call.app[keys.SESSIONS].begin() as session:
        await record(session, actor_of(call), "recording.camera_moved", target_type="camera", target_id=camera_id,
                     new=out.model_dump(mode="json"))
    return out
