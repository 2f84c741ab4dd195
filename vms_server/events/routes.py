"""HTTP routes for /events: list, get, life cycle, notes, tags, snapshot and the 20 s clip."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_common.errors import NotFound
from vms_server import keys
from vms_server.api.context import actor_of
from vms_server.api.keys import HUB
from vms_server.events import service
from vms_server.events.clips import cut_event_clip
from vms_server.events.keys import CLIP_CUTTER
from vms_server.events.models import Event
from vms_server.events.schemas import EventOut, EventPage, EventQuery, NoteIn, StatusIn, TagsIn

router = ApiRouter()
TAGS = ["events"]


def publish_updated(app: web.Application, ev: Event) -> None:
    app[HUB].publish("event.updated", service.payload(ev), site_id=ev.site_id)


@router.route("GET", "/events", role=Role.VIEWER, query=EventQuery, response=EventPage, tags=TAGS, errors=(422,))
async def list_events(call: Call[NoBody]) -> EventPage:
    """Events the caller may see, newest first, filtered, a page at a time."""
    query = call.query(EventQuery)
    async with call.app[keys.SESSIONS]() as session:
        rows, cursor = await service.list_events(session, call.user, query)
        items = [service.event_out(e) for e in rows]
        if query.collapse:
            sizes = await service.incident_sizes(session, [e.incident_id for e in rows if e.incident_id])
            for item in items:
                item.linked_events = max(0, sizes.get(item.incident_id, 1) - 1) if item.incident_id else 0
        return EventPage(items=items, next_cursor=cursor)


@router.route("GET", "/events/{event_id}", role=Role.VIEWER, response=EventOut, tags=TAGS, errors=(404,))
async def get_event(call: Call[NoBody]) -> EventOut:
    """One event with its notes and tags."""
    async with call.app[keys.SESSIONS]() as session:
        return service.event_out(await service.get_event(session, call.path_uuid("event_id"), call.user))


@router.route("POST", "/events/{event_id}/status", role=Role.VIEWER, body=StatusIn, response=EventOut, tags=TAGS,
              errors=(403, 404, 409, 422))
async def change_event_status(call: Call[StatusIn]) -> EventOut:
    """Acknowledge (any role), resolve or mark a false positive (supervisor), with a note: closing a CRITICAL
    alarm needs one (its reason on record; 409 note_required without: the request is well formed, the event's priority
    forbids it)."""
    async with call.app[keys.SESSIONS].begin() as session:
        ev = await service.change_status(session, call.path_uuid("event_id"), call.body, call.user, actor_of(call))
        out = service.event_out(ev)
    publish_updated(call.app, ev)
    return out


@router.route("POST", "/events/{event_id}/notes", role=Role.VIEWER, body=NoteIn, response=EventOut, status=201,
              tags=TAGS, errors=(404, 422))
async def add_event_note(call: Call[NoteIn]) -> EventOut:
    """Add a comment to an event."""
    async with call.app[keys.SESSIONS].begin() as session:
        ev = await service.add_note(session, call.path_uuid("event_id"), call.body.text, call.user, actor_of(call))
        out = service.event_out(ev)
    publish_updated(call.app, ev)
    return out


@router.route("PUT", "/events/{event_id}/tags", role=Role.SUPERVISOR, body=TagsIn, response=EventOut, tags=TAGS,
              errors=(404, 422))
async def set_event_tags(call: Call[TagsIn]) -> EventOut:
    """Replace an event's tags (False Alarm, Critical...)."""
    async with call.app[keys.SESSIONS].begin() as session:
        ev = await service.set_tags(session, call.path_uuid("event_id"), call.body.tags, call.user, actor_of(call))
        out = service.event_out(ev)
    publish_updated(call.app, ev)
    return out


@router.route("GET", "/events/{event_id}/snapshot", role=Role.VIEWER, media_type="image/jpeg", query_token=True,
              tags=TAGS, errors=(404,))
async def event_snapshot(call: Call[NoBody]) -> web.StreamResponse:
    """The frame the event was raised on (JPEG)."""
    async with call.app[keys.SESSIONS]() as session:
        ev = await service.get_event(session, call.path_uuid("event_id"), call.user)
    if not ev.snapshot_path or not await asyncio.to_thread(Path(ev.snapshot_path).is_file):
        raise NotFound("this event has no snapshot")
    return web.FileResponse(ev.snapshot_path, headers={"Content-Type": "image/jpeg"})


@router.route("GET", "/events/{event_id}/clip", role=Role.VIEWER, media_type="video/mp4", query_token=True,
              tags=TAGS, errors=(404, 503))
async def event_clip(call: Call[NoBody]) -> web.StreamResponse:
    """The event's clip as MP4: 10 s before to 10 s after, cut from the recording on first request."""
    app = call.app
    async with app[keys.SESSIONS]() as session:
        ev = await service.get_event(session, call.path_uuid("event_id"), call.user)
    path = Path(ev.clip_path) if ev.clip_path else None
    if path is None or not await asyncio.to_thread(path.is_file):
        path = await cut_event_clip(app[keys.SESSIONS], app[keys.SETTINGS].data_dir, app.get(CLIP_CUTTER), ev.id,
                                    ev.camera_id, ev.timestamp)
    name = f"event-{ev.id}.mp4"
    return web.FileResponse(path, headers={"Content-Type": "video/mp4",
                                           "Content-Disposition": f'attachment; filename="{name}"'})
