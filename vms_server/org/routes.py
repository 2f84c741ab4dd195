"""HTTP routes of the hierarchy, registered in a loop over the level table, plus the whole tree."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import select

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.api.context import actor_of
from vms_server.cameras.models import Camera
from vms_server.org import service
from vms_server.org.models import Building, Floor, Site, Zone
from vms_server.org.schemas import NodeCreate, NodeList, NodeOut, NodeUpdate, Tree, TreeCamera, TreeNode, level_bodies
from vms_server.org.service import LEVELS, Level

router = ApiRouter()


def _register(level: Level) -> None:
    plural = f"{level.kind}s"
    item = f"/{plural}/{{{level.kind}_id}}"
    collection = f"/{plural}" if level.parent is None else f"/{level.parent.kind}s/{{{level.parent.kind}_id}}/{plural}"
    parent_key = f"{level.parent.kind}_id" if level.parent else None
    tags = ["sites"]
    create_body, update_body = level_bodies(level.kind, level.extra)

    def parent_of(call: Call[Any]) -> uuid.UUID | None:
        return call.path_uuid(parent_key) if parent_key else None

    @router.route("GET", collection, role=Role.VIEWER, response=NodeList, tags=tags, summary=f"List {plural}")
    async def list_(call: Call[NoBody]) -> NodeList:
        async with call.app[keys.SESSIONS]() as session:
            return NodeList(items=await service.list_nodes(session, level, parent_of(call), call.user))

    # A new site is outside every restriction's list, so only an Admin of every site creates one.
    @router.route("POST", collection, role=Role.ADMIN, body=create_body, response=NodeOut, status=201, tags=tags,
                  summary=f"Create a {level.kind}", errors=(404, 409, 422), every_site=level.parent is None)
    async def create(call: Call[Any]) -> NodeOut:
        body = NodeCreate.model_validate(call.body.model_dump(exclude_unset=True))
        async with call.app[keys.SESSIONS].begin() as session:
            return await service.create_node(session, level, parent_of(call), body, call.user, actor_of(call))

    @router.route("GET", item, role=Role.VIEWER, response=NodeOut, tags=tags, summary=f"Get a {level.kind}",
                  errors=(404,))
    async def get(call: Call[NoBody]) -> NodeOut:
        async with call.app[keys.SESSIONS]() as session:
            node = await service.get_node(session, level, call.path_uuid(f"{level.kind}_id"), call.user)
            return service.to_out(level, node)

    @router.route("PATCH", item, role=Role.ADMIN, body=update_body, response=NodeOut, tags=tags,
                  summary=f"Change a {level.kind}", errors=(404, 409, 422))
    async def update(call: Call[Any]) -> NodeOut:
        body = NodeUpdate.model_validate(call.body.model_dump(exclude_unset=True))
        async with call.app[keys.SESSIONS].begin() as session:
            return await service.update_node(session, level, call.path_uuid(f"{level.kind}_id"), body,
                                             call.user, actor_of(call))

    @router.route("DELETE", item, role=Role.ADMIN, status=204, tags=tags, summary=f"Delete a {level.kind}",
                  errors=(404, 409))
    async def delete(call: Call[NoBody]) -> None:
        async with call.app[keys.SESSIONS].begin() as session:
            await service.delete_node(session, level, call.path_uuid(f"{level.kind}_id"), call.user, actor_of(call))

    handlers: tuple[Any, ...] = (list_, create, get, update, delete)
    for handler in handlers:
        handler.__name__ = f"{handler.__name__.strip('_')}_{level.kind}"


for _level in LEVELS:
    _register(_level)


@router.route("GET", "/tree", role=Role.VIEWER, response=Tree, tags=["sites"])
async def tree(call: Call[NoBody]) -> Tree:
    """Sites > buildings > floors > zones with their cameras, as the operator's resource tree shows them."""
    who = call.user
    async with call.app[keys.SESSIONS]() as session:
        sites = (await session.scalars(
            select(Site).where(Site.customer_id == who.customer_id).order_by(Site.name))).all()
        sites = [s for s in sites if who.can_see_site(s.id)]
        site_ids = [s.id for s in sites]
        buildings = (await session.scalars(
            select(Building).where(Building.site_id.in_(site_ids)).order_by(Building.name))).all()
        floors = (await session.scalars(select(Floor).where(
            Floor.building_id.in_([b.id for b in buildings])).order_by(Floor.level, Floor.name))).all()
        zones = (await session.scalars(
            select(Zone).where(Zone.floor_id.in_([f.id for f in floors])).order_by(Zone.name))).all()
        cameras = (await session.scalars(
            select(Camera).where(Camera.site_id.in_(site_ids)).order_by(Camera.name))).all()
    by_parent: dict[uuid.UUID, list[TreeNode]] = defaultdict(list)
    cams: dict[uuid.UUID, list[TreeCamera]] = defaultdict(list)
    for cam in cameras:
        cams[cam.zone_id or cam.site_id].append(
            TreeCamera(id=cam.id, name=cam.name, enabled=cam.enabled, tags=[t.name for t in cam.tags]))
    for zone in zones:
        by_parent[zone.floor_id].append(TreeNode(id=zone.id, kind="zone", name=zone.name, cameras=cams[zone.id]))
    for floor in floors:
        by_parent[floor.building_id].append(
            TreeNode(id=floor.id, kind="floor", name=floor.name, children=by_parent[floor.id]))
    for building in buildings:
        by_parent[building.site_id].append(
            TreeNode(id=building.id, kind="building", name=building.name, children=by_parent[building.id]))
    return Tree(sites=[TreeNode(id=s.id, kind="site", name=s.name, children=by_parent[s.id], cameras=cams[s.id])
                       for s in sites])
