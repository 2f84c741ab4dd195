"""HTTP routes for /anpr: plate-read search (partial plate, time range, camera, site) with the vehicle crop,
and each site's watchlist (allow, deny, VIP). Reads and entries are scoped to the caller's organisation
and sites; changing a watchlist is an administrator's, and audited."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_common.errors import Conflict, NotFound
from vms_server import keys
from vms_server.anpr.models import PlateRead, WatchlistEntry
from vms_server.anpr.schemas import (
    ReadList,
    ReadOut,
    ReadQuery,
    WatchlistIn,
    WatchlistList,
    WatchlistOut,
    plate_key,
)
from vms_server.anpr.service import DEFAULT_PRIORITY
from vms_server.api.context import actor_of
from vms_server.audit.service import record
from vms_server.org.models import Site

router = ApiRouter()
TAGS = ["anpr"]


def _read_out(row: PlateRead) -> ReadOut:
    url = f"/api/v1/anpr/reads/{row.id}/snapshot" if row.snapshot_path else None
    return ReadOut.model_validate({**{c: getattr(row, c) for c in ReadOut.model_fields if c != "snapshot_url"},
                                   "snapshot_url": url})


def _entry_out(row: WatchlistEntry) -> WatchlistOut:
    return WatchlistOut.model_validate(row, from_attributes=True)


async def _site(session: AsyncSession, call: Call[Any]) -> Site:
    """The path's site when the caller may see it (404 otherwise, like an unknown id)."""
    site = await session.get(Site, call.path_uuid("site_id"))
    who = call.user
    if site is None or site.customer_id != who.customer_id or (who.site_ids is not None
                                                               and site.id not in who.site_ids):
        raise NotFound("no such site")
    return site


@router.route("GET", "/anpr/reads", role=Role.VIEWER, query=ReadQuery, response=ReadList, tags=TAGS,
              errors=(422,))
async def search_reads(call: Call[NoBody]) -> ReadList:
    """Plate reads, newest first: a part of the plate, a time range, a camera or a site narrow the search.
    An inverted time range is empty."""
    query = call.query(ReadQuery)
    stmt = select(PlateRead).where(PlateRead.customer_id == call.user.customer_id)
    if call.user.site_ids is not None:
        stmt = stmt.where(PlateRead.site_id.in_(call.user.site_ids))
    if query.plate is not None and plate_key(query.plate):
        stmt = stmt.where(PlateRead.plate.contains(plate_key(query.plate), autoescape=True))
    if query.camera_id is not None:
        stmt = stmt.where(PlateRead.camera_id == query.camera_id)
    if query.site_id is not None:
        stmt = stmt.where(PlateRead.site_id == query.site_id)
    if query.since is not None:
        stmt = stmt.where(PlateRead.ts >= query.since)
    if query.until is not None:
        stmt = stmt.where(PlateRead.ts <= query.until)
    if query.watchlist is not None:
        stmt = stmt.where(PlateRead.watchlist == query.watchlist)
    async with call.app[keys.SESSIONS]() as session:
        rows = (await session.scalars(stmt.order_by(PlateRead.ts.desc(), PlateRead.id).limit(query.limit))).all()
    return ReadList(items=[_read_out(r) for r in rows])


@router.route("GET", "/anpr/reads/{read_id}/snapshot", role=Role.VIEWER, media_type="image/jpeg",
              query_token=True, tags=TAGS, errors=(404,))
async def read_snapshot(call: Call[NoBody]) -> web.StreamResponse:
    """The crop of the vehicle the plate was read on (JPEG)."""
    async with call.app[keys.SESSIONS]() as session:
        row = await session.get(PlateRead, call.path_uuid("read_id"))
    who = call.user
    if row is None or row.customer_id != who.customer_id or (who.site_ids is not None
                                                             and row.site_id not in who.site_ids):
        raise NotFound("no such plate read")
    if not row.snapshot_path or not await asyncio.to_thread(Path(row.snapshot_path).is_file):
        raise NotFound("this plate read has no crop")
    return web.FileResponse(row.snapshot_path, headers={"Content-Type": "image/jpeg"})


@router.route("GET", "/sites/{site_id}/anpr/watchlist", role=Role.VIEWER, response=WatchlistList, tags=TAGS,
              errors=(404,))
async def list_watchlist(call: Call[NoBody]) -> WatchlistList:
    """The site's watchlist entries, by plate."""
    async with call.app[keys.SESSIONS]() as session:
        site = await _site(session, call)
        rows = (await session.scalars(select(WatchlistEntry).where(WatchlistEntry.site_id == site.id)
                                      .order_by(WatchlistEntry.plate))).all()
    return WatchlistList(items=[_entry_out(r) for r in rows])


@router.route("POST", "/sites/{site_id}/anpr/watchlist", role=Role.ADMIN, body=WatchlistIn, response=WatchlistOut,
              status=201, tags=TAGS, errors=(404, 409, 422))
async def add_watchlist(call: Call[WatchlistIn]) -> WatchlistOut:
    """Put a plate on the site's allow, deny or VIP list; a read of it raises an `anpr_watchlist` event with
    the entry's priority. A plate is on one list per site (409 when it already is)."""
    body = call.body
    try:
        async with call.app[keys.SESSIONS].begin() as session:
            site = await _site(session, call)
            row = WatchlistEntry(customer_id=site.customer_id, site_id=site.id, plate=body.plate, kind=body.kind,
                                 priority=(body.priority or DEFAULT_PRIORITY[body.kind]).value, label=body.label)
            session.add(row)
            await session.flush()
            await record(session, actor_of(call), "anpr.watchlist.added", target_type="site", target_id=site.id,
                         new={"plate": row.plate, "kind": row.kind, "priority": row.priority})
            return _entry_out(row)
    except IntegrityError:
        raise Conflict("this plate is already on a list of this site") from None


@router.route("DELETE", "/anpr/watchlist/{entry_id}", role=Role.ADMIN, status=204, tags=TAGS, errors=(404,))
async def delete_watchlist(call: Call[NoBody]) -> None:
    """Take a plate off its site's list."""
    async with call.app[keys.SESSIONS].begin() as session:
        row = await session.get(WatchlistEntry, call.path_uuid("entry_id"))
        who = call.user
        if row is None or row.customer_id != who.customer_id or (who.site_ids is not None
                                                                 and row.site_id not in who.site_ids):
            raise NotFound("no such watchlist entry")
        await record(session, actor_of(call), "anpr.watchlist.removed", target_type="site", target_id=row.site_id,
                     old={"plate": row.plate, "kind": row.kind})
        await session.delete(row)
