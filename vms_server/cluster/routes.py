"""`/api/v1/cluster/...`: the node list and camera pins (administrators), a camera's owner (anyone who sees it),
and segment files for the other nodes (presigned links)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_common.errors import Forbidden, NotFound
from vms_server import keys
from vms_server.cameras.models import Camera
from vms_server.cluster.keys import CLUSTER
from vms_server.cluster.live import hls_subject, live_subject, open_file_subject, open_subject
from vms_server.cluster.models import CameraAssignment, ClusterNode
from vms_server.cluster.remote import NodeLinks
from vms_server.cluster.service import ClusterService
from vms_server.cluster.status import ClusterOut, cluster_status
from vms_server.playback.hls import local_file, media_type
from vms_server.playback.live_routes import serve_live
from vms_server.recording.keys import RECORDER
from vms_server.recording.models import RecordingSegment

router = ApiRouter()
TAGS = ["cluster"]


@router.route("GET", "/cluster/nodes", role=Role.ADMIN, response=ClusterOut, tags=TAGS)
async def list_nodes(call: Call[NoBody]) -> ClusterOut:
    """Every node that has joined, alive or dead (lease expired), with capacity and load; on a single server
    `enabled` is false and the list is empty."""
    service = call.app.get(CLUSTER)
    async with call.app[keys.SESSIONS]() as session:
        return await cluster_status(session, service is not None, service.node_id if service else None)


class OwnerOut(BaseModel):
    camera_id: uuid.UUID
    node_id: str | None  # None: no node records it now (none alive may take it)
    node_url: str | None  # where the owner's API answers: live and playback of this camera are served there
    pinned_node: str | None
    moving_to: str | None


@router.route("GET", "/cluster/cameras/{camera_id}", role=Role.VIEWER, response=OwnerOut, tags=TAGS,
              errors=(404,))
async def camera_owner(call: Call[NoBody]) -> OwnerOut:
    """Which node records a camera and where its API is: a client connected to any node asks here and opens
    live view on the owner (an access token is valid on every node of the cluster)."""
    camera_id = call.path_uuid("camera_id")
    async with call.app[keys.SESSIONS]() as session:
        camera = await session.get(Camera, camera_id)
        if camera is None or camera.customer_id != call.user.customer_id or not call.user.can_see_site(
                camera.site_id):
            raise NotFound("no such camera")
        row = await session.get(CameraAssignment, camera_id)
        node = await session.get(ClusterNode, row.node_id) if row is not None and row.node_id else None
    return OwnerOut(camera_id=camera_id, node_id=node.id if node else None, node_url=node.url if node else None,
                    pinned_node=row.pinned_node if row else None, moving_to=row.moving_to if row else None)


class PinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    node_id: str | None = Field(description="Node that records the camera while it is alive; null: any",
                                min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")


class AssignmentOut(BaseModel):
    camera_id: uuid.UUID
    node_id: str | None
    pinned_node: str | None
    moving_to: str | None
    token: int


@router.route("PUT", "/cluster/cameras/{camera_id}/pin", role=Role.ADMIN, body=PinIn, response=AssignmentOut,
              tags=TAGS, errors=(404, 422))
async def pin_camera(call: Call[PinIn]) -> AssignmentOut:
    """Pin a camera to a node (or unpin it). The next assignment round hands it over without two nodes ever
    recording it at once; if the node dies the camera fails over like any other and returns when it is back."""
    camera_id = call.path_uuid("camera_id")
    async with call.app[keys.SESSIONS].begin() as session:
        camera = await session.get(Camera, camera_id)
        if camera is None or camera.customer_id != call.user.customer_id or not call.user.can_see_site(
                camera.site_id):
            raise NotFound("no such camera")
        row = (await session.scalars(select(CameraAssignment).where(CameraAssignment.camera_id == camera_id)
                                     .with_for_update())).one_or_none()
        if row is None:
            row = CameraAssignment(camera_id=camera_id, token=0)
            session.add(row)
        row.pinned_node = call.body.node_id
        await session.flush()
        return AssignmentOut(camera_id=camera_id, node_id=row.node_id, pinned_node=row.pinned_node,
                             moving_to=row.moving_to, token=row.token)


class SegmentLinkQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expires: str = Field(max_length=20, description="Unix time the link stops working")
    sig: str = Field(max_length=64, description="HMAC of the segment id and `expires`, from the cluster's key")


class LiveLinkQuery(SegmentLinkQuery):
    stream: Literal["main", "sub"] = "sub"


def _linked(call: Call[NoBody], links_of: Callable[[ClusterService], NodeLinks | None], subject: object,
            expires: str, sig: str) -> ClusterService:
    """The cluster service, once the presigned link is checked: 404 off a cluster, 403 for a bad link."""
    service = call.app.get(CLUSTER)
    links = links_of(service) if service is not None else None
    if service is None or links is None:
        raise NotFound("this server is not a cluster node")
    if not links.valid(subject, expires, sig):
        raise Forbidden("the link is invalid or expired", code="bad_link")
    return service


@router.route("GET", "/cluster/segments/{segment_id}/file", role=None, query=SegmentLinkQuery,
              media_type="video/mp4", tags=TAGS, errors=(403, 404, 422))
async def segment_file(call: Call[NoBody]) -> web.StreamResponse:
    """One recorded segment's file, for another node of the cluster that plays or exports a period recorded
    partly here (docs/cluster.md). Not a user route: it takes no token but a presigned link (`expires`, `sig`)
    that only holders of the cluster's master secret can make; a link opens one segment for a minute."""
    segment_id = call.path_uuid("segment_id")
    q = call.query(SegmentLinkQuery)
    remote = _linked(call, _segment_links, segment_id, q.expires, q.sig).remote
    async with call.app[keys.SESSIONS]() as session:
        row = await session.get(RecordingSegment, segment_id)
    if row is None or remote is None or remote.is_remote(row):
        raise NotFound("no such segment on this node")
    path = Path(row.volume) / row.path
    if not await asyncio.to_thread(path.is_file):
        raise NotFound("the segment's file is gone", code="footage_missing")
    return web.FileResponse(path, headers={"Content-Type": "video/mp4", "Cache-Control": "no-store"})


@router.route("GET", "/cluster/cameras/{camera_id}/live/ws", role=None, query=LiveLinkQuery,
              media_type="application/octet-stream", tags=TAGS, errors=(403, 404, 422))
async def relayed_live(call: Call[NoBody]) -> web.StreamResponse:
    """Live view of a camera recorded here, for the node another client watches it through (the same socket as
    `/cameras/{id}/live/ws`). Not a user route: a presigned link over the camera and stream (a minute)."""
    camera_id = call.path_uuid("camera_id")
    q = call.query(LiveLinkQuery)
    _linked(call, _live_links, live_subject(camera_id, q.stream), q.expires, q.sig)
    return await serve_live(call.request, camera_id, q.stream, relay=False)


@router.route("GET", "/cluster/cameras/{camera_id}/live/hls/{name}", role=None, query=LiveLinkQuery,
              media_type="video/mp4", tags=TAGS, errors=(403, 404, 422, 503))
async def relayed_hls(call: Call[NoBody]) -> web.StreamResponse:
    """This node's live HLS playlist (as written: the asking node adds its client's query) or a segment of it,
    for the node a browser watches the camera through. Not a user route: a presigned link (a minute)."""
    camera_id = call.path_uuid("camera_id")
    q = call.query(LiveLinkQuery)
    _linked(call, _live_links, hls_subject(camera_id, q.stream), q.expires, q.sig)
    name = call.request.match_info["name"]
    body = await local_file(call.app, camera_id, q.stream, name)
    return web.Response(body=body, headers={"Content-Type": media_type(name), "Cache-Control": "no-store"})


class OpenSpanOut(BaseModel):
    camera_id: uuid.UUID
    start_us: int
    last_us: int


@router.route("GET", "/cluster/cameras/{camera_id}/open", role=None, query=SegmentLinkQuery,
              response=OpenSpanOut, tags=TAGS, errors=(403, 404, 422))
async def open_span(call: Call[NoBody]) -> OpenSpanOut:
    """The span of the segment this node is writing for a camera (not indexed until it closes), for the live
    end of a timeline asked of another node. Presigned link over `open:<camera>`; 404 when nothing is open."""
    camera_id = call.path_uuid("camera_id")
    q = call.query(SegmentLinkQuery)
    _linked(call, _live_links, open_subject(camera_id), q.expires, q.sig)
    # By the recorder here or, with ingest workers, by the camera's worker as of its last report.
    current = call.app[RECORDER].open_segment(camera_id)
    if current is None:
        raise NotFound("this node is not writing a segment of that camera")
    return OpenSpanOut(camera_id=camera_id, start_us=current[1], last_us=current[2])


@router.route("GET", "/cluster/cameras/{camera_id}/open/file", role=None, query=LiveLinkQuery,
              media_type="video/mp4", tags=TAGS, errors=(403, 404, 422))
async def open_file(call: Call[NoBody]) -> web.StreamResponse:
    """The segment this node is writing for a camera's stream, as far as it is flushed (its span in the
    `X-Start-Us` and `X-Last-Us` headers), for playback and export of the last seconds asked of another node.
    Presigned link over `open-file:<camera>:<stream>`; 404 when no such segment is open here."""
    camera_id = call.path_uuid("camera_id")
    q = call.query(LiveLinkQuery)
    _linked(call, _live_links, open_file_subject(camera_id, q.stream), q.expires, q.sig)
    current = call.app[RECORDER].open_segment(camera_id, q.stream)
    if current is None or not await asyncio.to_thread(current[0].is_file):
        raise NotFound("this node is not writing a segment of that camera's stream")
    path, first, last = current
    return web.FileResponse(path, headers={"Content-Type": "video/mp4", "Cache-Control": "no-store",
                                           "X-Start-Us": str(first), "X-Last-Us": str(last)})


def _segment_links(service: ClusterService) -> NodeLinks | None:
    return service.remote.links if service.remote is not None else None


def _live_links(service: ClusterService) -> NodeLinks | None:
    return service.live.links if service.live is not None else None
