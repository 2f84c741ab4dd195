"""HTTP routes for /layouts: everyone reads the customer's shared layouts; supervisors publish and edit."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.principal import Principal
from vms_common.auth.roles import Role
from vms_common.errors import Conflict, InvalidInput, NotFound
from vms_server import keys
from vms_server.api.context import actor_of
from vms_server.audit.service import record
from vms_server.cameras.models import Camera
from vms_server.layouts.models import SharedLayout
from vms_server.layouts.schemas import LayoutIn, LayoutItemIn, LayoutList, LayoutOut

router = ApiRouter()


def layout_out(row: SharedLayout, visible: set[str] | None = None) -> LayoutOut:
    """The layout; with `visible` (camera ids), only the tiles of those cameras."""
    items = [i for i in row.items if visible is None or str(i.get("camera_id")) in visible]
    return LayoutOut(id=row.id, name=row.name, rows=row.rows, cols=row.cols,
                     items=[LayoutItemIn.model_validate(i) for i in items], created_by=row.created_by,
                     created_at=row.created_at, updated_at=row.updated_at)


async def _visible_cameras(session: AsyncSession, who: Principal) -> set[str] | None:
    """Camera ids a site-restricted caller may see (None: every camera): a shared layout's tiles of other sites
    would tell them those cameras' ids."""
    if who.site_ids is None:
        return None
    ids = (await session.scalars(select(Camera.id).where(Camera.site_id.in_(who.site_ids)))).all()
    return {str(i) for i in ids}


def _items(body: LayoutIn) -> list[dict[str, Any]]:
    return [i.model_dump(mode="json") for i in body.items]


async def _get(session: AsyncSession, call: Call[Any]) -> SharedLayout:
    row = await session.get(SharedLayout, call.path_uuid("layout_id"))
    if row is None or row.customer_id != call.user.customer_id:
        raise NotFound("no such layout")
    return row


async def _flush(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"a shared layout named {name!r} already exists") from None


def _check_tiles(body: LayoutIn, visible: set[str] | None) -> None:
    """A site-restricted editor may place only cameras they can see (unknown ids would probe other sites)."""
    if visible is not None and any(str(i.camera_id) not in visible for i in body.items):
        raise InvalidInput("a tile names a camera you cannot see", code="unknown_camera")


def _keep_hidden(row: SharedLayout, body: LayoutIn, visible: set[str] | None) -> list[dict[str, Any]]:
    """The new tiles plus the old ones of cameras the editor cannot see: a restricted Supervisor edits their
    sites' part of a shared layout and leaves the rest as it was. Raises Conflict when they would overlap."""
    _check_tiles(body, visible)
    if visible is None:
        return _items(body)
    hidden = [i for i in row.items if str(i.get("camera_id")) not in visible]
    merged = [*_items(body), *hidden]
    try:
        LayoutIn.model_validate({"name": body.name, "rows": body.rows, "cols": body.cols, "items": merged})
    except ValidationError:
        raise Conflict("the new tiles cover places that hold cameras of other sites; keep clear of them") from None
    return merged


@router.route("GET", "/layouts", role=Role.VIEWER, response=LayoutList, tags=["layouts"])
async def list_layouts(call: Call[NoBody]) -> LayoutList:
    """The shared layouts of the caller's organisation."""
    async with call.app[keys.SESSIONS]() as session:
        rows = (await session.scalars(select(SharedLayout).where(
            SharedLayout.customer_id == call.user.customer_id).order_by(SharedLayout.name))).all()
        visible = await _visible_cameras(session, call.user)
        return LayoutList(items=[layout_out(r, visible) for r in rows])


@router.route("POST", "/layouts", role=Role.SUPERVISOR, body=LayoutIn, response=LayoutOut, status=201,
              tags=["layouts"], errors=(409, 422))
async def create_layout(call: Call[LayoutIn]) -> LayoutOut:
    """Publish a layout under a new name."""
    body = call.body
    async with call.app[keys.SESSIONS].begin() as session:
        _check_tiles(body, await _visible_cameras(session, call.user))
        row = SharedLayout(customer_id=call.user.customer_id, name=body.name, rows=body.rows, cols=body.cols,
                           items=_items(body), created_by=call.user.username)
        session.add(row)
        await _flush(session, body.name)
        await record(session, actor_of(call), "layout.created", target_type="layout", target_id=row.id,
                     new={"name": body.name, "tiles": len(body.items)})
        return layout_out(row)


@router.route("GET", "/layouts/{layout_id}", role=Role.VIEWER, response=LayoutOut, tags=["layouts"], errors=(404,))
async def get_layout(call: Call[NoBody]) -> LayoutOut:
    """One shared layout."""
    async with call.app[keys.SESSIONS]() as session:
        return layout_out(await _get(session, call), await _visible_cameras(session, call.user))


@router.route("PUT", "/layouts/{layout_id}", role=Role.SUPERVISOR, body=LayoutIn, response=LayoutOut,
              tags=["layouts"], errors=(404, 409, 422))
async def replace_layout(call: Call[LayoutIn]) -> LayoutOut:
    """Replace a shared layout's name and grid."""
    body = call.body
    async with call.app[keys.SESSIONS].begin() as session:
        row = await _get(session, call)
        old = {"name": row.name, "tiles": len(row.items)}
        items = _keep_hidden(row, body, await _visible_cameras(session, call.user))
        row.name, row.rows, row.cols, row.items = body.name, body.rows, body.cols, items
        await _flush(session, body.name)
        await record(session, actor_of(call), "layout.changed", target_type="layout", target_id=row.id, old=old,
                     new={"name": body.name, "tiles": len(body.items)})
        return layout_out(row)


@router.route("DELETE", "/layouts/{layout_id}", role=Role.SUPERVISOR, status=204, tags=["layouts"], errors=(404,))
async def delete_layout(call: Call[NoBody]) -> None:
    """Withdraw a shared layout (copies operators made locally stay)."""
    async with call.app[keys.SESSIONS].begin() as session:
        row = await _get(session, call)
        await record(session, actor_of(call), "layout.deleted", target_type="layout", target_id=row.id,
                     old={"name": row.name})
        await session.delete(row)
