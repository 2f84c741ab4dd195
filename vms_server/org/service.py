"""Generic CRUD over the four hierarchy levels, described once in a table instead of four copies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common.auth.principal import Principal
from vms_common.errors import Conflict, InvalidInput, NotFound
from vms_server.audit.service import Actor, record
from vms_server.auth.models import User, user_sites
from vms_server.db.base import Base
from vms_server.db.locks import serialise
from vms_server.org.models import Building, Floor, Site, Zone
from vms_server.org.schemas import NodeCreate, NodeOut, NodeUpdate


@dataclass(frozen=True)
class Level:
    kind: str
    model: type[Base]
    parent: Level | None
    parent_attr: str | None
    extra: tuple[str, ...] = ()


SITE = Level("site", Site, None, None, ("address", "timezone"))
BUILDING = Level("building", Building, SITE, "site_id")
FLOOR = Level("floor", Floor, BUILDING, "building_id", ("level",))
ZONE = Level("zone", Zone, FLOOR, "floor_id")
LEVELS = (SITE, BUILDING, FLOOR, ZONE)


def to_out(level: Level, node: Any) -> NodeOut:
    return NodeOut(
        id=node.id,
        kind=level.kind,
        name=node.name,
        parent_id=getattr(node, level.parent_attr) if level.parent_attr else None,
        **{name: getattr(node, name) for name in level.extra},
    )


async def site_of(session: AsyncSession, level: Level, node: Any) -> uuid.UUID:
    """Walk up to the site, for site-scoped access checks."""
    while level.parent is not None:
        assert level.parent_attr is not None
        node = await session.get(level.parent.model, getattr(node, level.parent_attr))
        level = level.parent
    return node.id  # type: ignore[no-any-return]


async def get_node(session: AsyncSession, level: Level, node_id: uuid.UUID, who: Principal) -> Any:
    node = await session.get(level.model, node_id)
    # A node in a site the user may not see is reported as missing, not forbidden: no probing for ids.
    if node is None or getattr(node, "customer_id", who.customer_id) != who.customer_id:
        raise NotFound(f"no such {level.kind}")
    if not who.can_see_site(await site_of(session, level, node)):
        raise NotFound(f"no such {level.kind}")
    return node


async def list_nodes(
    session: AsyncSession, level: Level, parent_id: uuid.UUID | None, who: Principal
) -> list[NodeOut]:
    model: Any = level.model
    if level.parent is None:
        query = select(model).where(model.customer_id == who.customer_id)
        if who.site_ids is not None:
            query = query.where(model.id.in_(who.site_ids))
    else:
        assert parent_id is not None and level.parent_attr is not None
        await get_node(session, level.parent, parent_id, who)
        query = select(model).where(getattr(model, level.parent_attr) == parent_id)
    rows = (await session.scalars(query.order_by(model.name))).all()
    return [to_out(level, row) for row in rows]


def _fields(level: Level, data: NodeCreate | NodeUpdate) -> dict[str, Any]:
    given = data.model_dump(exclude_unset=True)
    stray = {k for k in given if k not in ("name", *level.extra)}
    if stray:
        raise InvalidInput(f"a {level.kind} has no field {', '.join(sorted(stray))}")
    return given


async def _flush(session: AsyncSession, level: Level, name: str | None) -> None:
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"a {level.kind} named '{name}' already exists here") from None


async def create_node(
    session: AsyncSession, level: Level, parent_id: uuid.UUID | None, data: NodeCreate, who: Principal,
    actor: Actor,
) -> NodeOut:
    fields = _fields(level, data)
    if level.parent is None:
        fields["customer_id"] = who.customer_id
    else:
        assert parent_id is not None and level.parent_attr is not None
        await get_node(session, level.parent, parent_id, who)
        fields[level.parent_attr] = parent_id
    node: Any = level.model(**fields)
    session.add(node)
    await _flush(session, level, data.name)
    out = to_out(level, node)
    await record(session, actor, f"{level.kind}.created", target_type=level.kind, target_id=out.id,
                 new=out.model_dump(mode="json"))
    return out


async def update_node(
    session: AsyncSession, level: Level, node_id: uuid.UUID, data: NodeUpdate, who: Principal, actor: Actor
) -> NodeOut:
    node = await get_node(session, level, node_id, who)
    before = to_out(level, node).model_dump(mode="json")
    for name, value in _fields(level, data).items():
        setattr(node, name, value)
    await _flush(session, level, data.name)
    out = to_out(level, node)
    await record(session, actor, f"{level.kind}.updated", target_type=level.kind, target_id=node_id,
                 old=before, new=out.model_dump(mode="json"))
    return out


async def _refuse_if_users_restricted(session: AsyncSession, site_id: uuid.UUID) -> None:
    """Refuse to delete a site while users are restricted to it.

    An empty site set means "every site", and deleting the site cascades into `user_sites`: a user whose last
    site went would silently gain access to all of them. Locks are taken first so that an assignment to the site
    cannot slip in between this check and the delete: the site row (PostgreSQL: an insert into `user_sites` waits
    on it) and the database's writer lock (SQLite).
    """
    await serialise(session, "org.site_delete")
    await session.execute(select(Site.id).where(Site.id == site_id).with_for_update())
    names = (await session.scalars(
        select(User.username).join(user_sites, user_sites.c.user_id == User.id)
        .where(user_sites.c.site_id == site_id).order_by(User.username).limit(5))).all()
    if names:
        total = int(await session.scalar(
            select(func.count()).select_from(user_sites).where(user_sites.c.site_id == site_id)) or 0)
        shown = ", ".join(names) + (f" and {total - len(names)} more" if total > len(names) else "")
        raise Conflict(f"users are restricted to this site ({shown}); change their sites first",
                       code="site_has_users")


async def delete_node(session: AsyncSession, level: Level, node_id: uuid.UUID, who: Principal, actor: Actor) -> None:
    node = await get_node(session, level, node_id, who)
    if level is SITE:
        await _refuse_if_users_restricted(session, node_id)
    before = to_out(level, node).model_dump(mode="json")
    await session.delete(node)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"this {level.kind} still has cameras; move or delete them first") from None
    await record(session, actor, f"{level.kind}.deleted", target_type=level.kind, target_id=node_id, old=before)
