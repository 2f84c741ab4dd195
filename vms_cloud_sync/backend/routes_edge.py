"""The edge API: enrol with a one-time token, then (as the edge) push items, heartbeats and clips, and
pull the licence and cloud-side settings."""

from __future__ import annotations

from vms_cloud_sync.backend import clips, ingest, keys, licences, tenancy
from vms_cloud_sync.backend.auth import require_edge
from vms_cloud_sync.backend.common import authenticate
from vms_cloud_sync.backend.db import scoped
from vms_cloud_sync.backend.models import TenantSettings
from vms_cloud_sync.protocol.sync import (
    ClipStart,
    ClipState,
    EnrolIn,
    EnrolOut,
    HeartbeatIn,
    IngestBatch,
    IngestResult,
    LicenceOut,
    SettingsOut,
)
from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_common.errors import InvalidInput, PayloadTooLarge

router = ApiRouter(authenticator=authenticate)
EDGE = Role.VIEWER  # edges carry the lowest role; require_edge() keeps HQ users out of these routes


@router.route("POST", "/edge/enrol", role=None, body=EnrolIn, response=EnrolOut, status=201, tags=["edge"],
              errors=(401,))
async def enrol(call: Call[EnrolIn]) -> EnrolOut:
    """Redeem a one-time enrolment token; the answer holds the edge's own credential (shown once)."""
    tenant_id, secret = tenancy.split_enrolment_token(call.body.token)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        edge, credential = await tenancy.redeem(session, tenant_id, secret, call.body.name, call.body.version)
    return EnrolOut(tenant_id=tenant_id, edge_id=edge.id, credential=credential)


@router.route("POST", "/edge/credential", role=EDGE, response=EnrolOut, tags=["edge"])
async def rotate_credential(call: Call[NoBody]) -> EnrolOut:
    """Replace this edge's credential; the old one stops working at once."""
    tenant_id, edge_id = require_edge(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        credential = await tenancy.rotate(session, tenant_id, edge_id)
    return EnrolOut(tenant_id=tenant_id, edge_id=edge_id, credential=credential)


@router.route("POST", "/edge/ingest", role=EDGE, body=IngestBatch, response=IngestResult, tags=["edge"])
async def ingest_items(call: Call[IngestBatch]) -> IngestResult:
    """Store a batch of outbox items; a key seen before is acknowledged as a duplicate and not stored."""
    tenant_id, edge_id = require_edge(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        result = await ingest.ingest(session, tenant_id, edge_id, call.body)
    metrics = call.app[keys.METRICS]
    metrics.items.labels("all", "stored").inc(result.stored)
    metrics.items.labels("all", "duplicate").inc(result.duplicates)
    return result


@router.route("POST", "/edge/heartbeat", role=EDGE, body=HeartbeatIn, response=SettingsOut, tags=["edge"])
async def heartbeat(call: Call[HeartbeatIn]) -> SettingsOut:
    """Record the edge's health; the answer carries the cloud-side settings."""
    tenant_id, edge_id = require_edge(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        await ingest.heartbeat(session, tenant_id, edge_id, call.body)
        row = await session.get(TenantSettings, tenant_id)
    call.app[keys.METRICS].heartbeats.inc()
    return SettingsOut(settings=dict(row.settings) if row else {})


@router.route("POST", "/edge/clips", role=EDGE, body=ClipStart, response=ClipState, tags=["edge"], errors=(409,))
async def start_clip(call: Call[ClipStart]) -> ClipState:
    """Announce a clip (or ask where its upload stands): send chunks from `received`."""
    tenant_id, edge_id = require_edge(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        return await clips.start(session, tenant_id, edge_id, call.body)


@router.route("PUT", "/edge/clips/{clip_id}/chunks", role=EDGE, response=ClipState, tags=["edge"],
              errors=(404, 409, 413, 422))
async def put_chunk(call: Call[NoBody]) -> ClipState:
    """Raw bytes at `?offset=`, with `X-Chunk-Sha256`; a wrong offset answers 409 with the right one."""
    tenant_id, _ = require_edge(call.user)
    clip_id = call.path_uuid("clip_id")
    try:
        offset = int(call.request.query.get("offset", ""))
    except ValueError:
        raise InvalidInput("offset must be an integer") from None
    digest = call.request.headers.get("X-Chunk-Sha256", "")
    if len(digest) != 64:
        raise InvalidInput("X-Chunk-Sha256 header (hex SHA-256 of the chunk) is required")
    limit = call.app[keys.SETTINGS].server.max_body_bytes
    if call.request.content_length is not None and call.request.content_length > limit:
        raise PayloadTooLarge(f"chunk larger than {limit} bytes")
    data = await call.request.read()  # the whole body; aiohttp refuses more than client_max_size
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        state = await clips.chunk(session, call.app[keys.STORE], tenant_id, clip_id, offset, data, digest)
    call.app[keys.METRICS].clip_bytes.inc(len(data))
    return state


@router.route("POST", "/edge/clips/{clip_id}/complete", role=EDGE, response=ClipState, tags=["edge"],
              errors=(404, 409))
async def complete_clip(call: Call[NoBody]) -> ClipState:
    """Check the whole clip against its announced SHA-256 and make it playable."""
    tenant_id, _ = require_edge(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        return await clips.complete(session, call.app[keys.STORE], call.path_uuid("clip_id"))


@router.route("GET", "/edge/licence", role=EDGE, response=LicenceOut, tags=["edge"])
async def pull_licence(call: Call[NoBody]) -> LicenceOut:
    """The tenant's newest signed licence."""
    tenant_id, _ = require_edge(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        row = await licences.current(session)
    return LicenceOut(document=row.document if row else None)


@router.route("GET", "/edge/settings", role=EDGE, response=SettingsOut, tags=["edge"])
async def pull_settings(call: Call[NoBody]) -> SettingsOut:
    """Cloud-side settings for the edge (e.g. clip_bytes_per_s)."""
    tenant_id, _ = require_edge(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        row = await session.get(TenantSettings, tenant_id)
    return SettingsOut(settings=dict(row.settings) if row else {})


