"""`/api/v1/config/...`: the schema, effective values with their level, overrides, versions and rollback."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.principal import Principal
from vms_common.auth.roles import Role
from vms_common.errors import Forbidden, NotFound
from vms_server import keys
from vms_server.api.context import actor_of
from vms_server.api.keys import HUB
from vms_server.config import schema
from vms_server.config.cache import ConfigCache
from vms_server.config.keys import CONFIG
from vms_server.config.models import ConfigValue, ConfigVersion
from vms_server.config.service import ConfigService, Resolved
from vms_server.config.visibility import ScopeIndex, scope_index

router = ApiRouter()
TAGS = ["configuration"]


class KeyOut(BaseModel):
    key: str
    description: str | None
    default: Any
    per_model: bool
    critical: bool
    schema_: dict[str, Any] = Field(alias="schema")


class KeysOut(BaseModel):
    items: list[KeyOut]


class SchemaOut(BaseModel):
    model_config = ConfigDict(extra="allow")


def _key_enum(schema_: dict[str, Any]) -> None:
    """JSON Schema hook: the configuration keys, so the document says which `key` the server knows."""
    string = next((b for b in schema_.get("anyOf", []) if b.get("type") == "string"), schema_)
    string["enum"] = sorted(schema.keys())


class EffectiveQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str | None = Field(None, description="One key; all keys when absent", json_schema_extra=_key_enum)
    camera_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    model: str | None = Field(None, max_length=50, pattern=r"^[A-Za-z0-9_]*$")


class ResolvedOut(BaseModel):
    key: str
    value: Any
    level: str = Field(description="default, system, customer, site or camera")
    model: str | None = Field(description="Set when a per-model override supplied the value")


class EffectiveOut(BaseModel):
    items: list[ResolvedOut]


class ValuesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Literal["system", "customer", "site", "camera"]
    scope_id: uuid.UUID | None = None
    model: str | None = Field(None, max_length=50, pattern=r"^[A-Za-z0-9_]*$",
                              description="Override for this analytics model only")
    values: dict[str, Any] = Field(min_length=1, description="key -> value; null removes the override")
    comment: str | None = Field(None, max_length=500)


class ValuesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Literal["system", "customer", "site", "camera"] | None = None
    scope_id: uuid.UUID | None = None


class ValueOut(BaseModel):
    scope: str
    scope_id: str | None
    model: str | None
    key: str
    value: Any
    version: int


class ValuesOut(BaseModel):
    items: list[ValueOut]


class VersionOut(BaseModel):
    version: int
    at: dt.datetime
    actor: str
    comment: str | None
    restored_from: int | None
    changes: list[dict[str, Any]]


class VersionsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(50, ge=1, le=500)
    before: int | None = Field(None, ge=1)


class VersionsOut(BaseModel):
    items: list[VersionOut]


def _service(call: Call[Any]) -> ConfigService:
    return call.app[CONFIG]


def _out(r: Resolved) -> ResolvedOut:
    return ResolvedOut(key=r.key, value=r.value, level=r.level, model=r.model)


async def _index(call: Call[Any], changes: Iterable[dict[str, Any]]) -> ScopeIndex:
    async with call.app[keys.SESSIONS]() as session:
        return await scope_index(session, ((c["scope"], c["scope_ref"]) for c in changes))


async def _announce(call: Call[Any], v: ConfigVersion) -> None:
    """Tell connected clients (the desktop's settings pages) to re-read what they show; each user hears only of
    the levels they may see (a site-restricted user learns no other site's or camera's id)."""
    index = await _index(call, v.changes)

    def render(who: Principal) -> dict[str, Any] | None:
        changes = index.changes_for(who, v.changes)
        if not changes:
            return None
        scopes = sorted({(c["scope"], c["scope_ref"]) for c in changes})
        return {"version": v.id, "keys": sorted({c["key"] for c in changes}),
                "scopes": [{"scope": s, "scope_id": r or None} for s, r in scopes]}

    call.app[HUB].publish_each("config.changed", render)


def _version_out(v: ConfigVersion, index: ScopeIndex | None = None, who: Principal | None = None) -> VersionOut:
    changes = v.changes if index is None or who is None else index.changes_for(who, v.changes)
    return VersionOut(version=v.id, at=v.at, actor=v.actor, comment=v.comment, restored_from=v.restored_from,
                      changes=changes)


@router.route("GET", "/config/schema", role=Role.VIEWER, response=SchemaOut, tags=TAGS)
async def config_schema(call: Call[NoBody]) -> SchemaOut:
    """The JSON schema of every configurable parameter, with bounds and descriptions."""
    return SchemaOut.model_validate(schema.json_schema())


@router.route("GET", "/config/keys", role=Role.VIEWER, response=KeysOut, tags=TAGS)
async def config_keys(call: Call[NoBody]) -> KeysOut:
    """Every key with its default, whether it can be set per model and whether it is refreshed early."""
    items = [KeyOut(key=s.key, description=s.info.description, default=s.default, per_model=s.per_model,
                    critical=s.critical, schema=_field_schema(s)) for s in schema.keys().values()]
    return KeysOut(items=items)


def _field_schema(spec: schema.KeySpec) -> dict[str, Any]:
    props: dict[str, Any] = spec.section.model_json_schema()["properties"][spec.field]
    return props


async def _check_target(call: Call[Any], camera_id: uuid.UUID | None, site_id: uuid.UUID | None,
                        customer_id: uuid.UUID | None) -> None:
    """A caller sees only its own customer's and its permitted sites' configuration."""
    user = call.user
    if customer_id is not None and customer_id != user.customer_id:
        raise NotFound(f"no such customer: {customer_id}")
    if site_id is not None and not user.can_see_site(site_id):
        raise NotFound(f"no such site: {site_id}")
    if camera_id is not None:
        async with call.app[keys.SESSIONS]() as session:
            from vms_server.cameras.models import Camera

            camera = await session.get(Camera, camera_id)
        if camera is None or camera.customer_id != user.customer_id or not user.can_see_site(camera.site_id):
            raise NotFound(f"no such camera: {camera_id}")


@router.route("GET", "/config/effective", role=Role.VIEWER, query=EffectiveQuery, response=EffectiveOut,
              tags=TAGS, errors=(404, 422))
async def config_effective(call: Call[NoBody]) -> EffectiveOut:
    """Effective value(s) for a camera, site, customer or the system, and the level each came from."""
    q = call.query(EffectiveQuery)
    await _check_target(call, q.camera_id, q.site_id, q.customer_id)
    service = _service(call)
    if q.key is not None:
        one = await service.resolve(q.key, q.camera_id, q.model, site_id=q.site_id, customer_id=q.customer_id)
        return EffectiveOut(items=[_out(one)])
    every = await service.effective(q.camera_id, q.model, site_id=q.site_id, customer_id=q.customer_id)
    return EffectiveOut(items=[_out(r) for r in every])


@router.route("GET", "/config/values", role=Role.SUPERVISOR, query=ValuesQuery, response=ValuesOut, tags=TAGS)
async def config_values(call: Call[NoBody]) -> ValuesOut:
    """Stored overrides (not defaults), optionally of one level."""
    q = call.query(ValuesQuery)
    stmt = select(ConfigValue).order_by(ConfigValue.scope, ConfigValue.scope_ref, ConfigValue.model,
                                        ConfigValue.key)
    if q.scope is not None:
        stmt = stmt.where(ConfigValue.scope == q.scope)
    if q.scope_id is not None:
        stmt = stmt.where(ConfigValue.scope_ref == str(q.scope_id))
    async with call.app[keys.SESSIONS]() as session:
        rows = (await session.scalars(stmt)).all()
        index = await scope_index(session, ((r.scope, r.scope_ref) for r in rows))
    rows = [r for r in rows if index.visible(call.user, r.scope, r.scope_ref)]
    return ValuesOut(items=[ValueOut(scope=r.scope, scope_id=r.scope_ref or None, model=r.model or None,
                                     key=r.key, value=r.value, version=r.version) for r in rows])


@router.route("PUT", "/config/values", role=Role.ADMIN, body=ValuesIn, response=VersionOut, tags=TAGS,
              errors=(404, 409, 422))
async def config_put_values(call: Call[ValuesIn]) -> VersionOut:
    """Set or remove overrides at one level; creates a new version and an audit entry."""
    b = call.body
    if b.scope == "customer" and b.scope_id != call.user.customer_id:
        raise Forbidden("you can change only your own customer's configuration")
    if b.scope in ("system", "customer") and call.user.site_ids is not None:
        raise Forbidden(f"the {b.scope} level applies to every site; you are restricted to some: set values "
                        f"at the site or camera level", code="site_restricted")
    if b.scope in ("site", "camera"):
        await _check_target(call, b.scope_id if b.scope == "camera" else None,
                            b.scope_id if b.scope == "site" else None, None)
    version = await _service(call).set_values(b.scope, b.scope_id, b.model, b.values, actor_of(call), b.comment)
    await _announce(call, version)
    return _version_out(version)


@router.route("GET", "/config/versions", role=Role.SUPERVISOR, query=VersionsQuery, response=VersionsOut,
              tags=TAGS)
async def config_versions(call: Call[NoBody]) -> VersionsOut:
    """Configuration versions, newest first."""
    q = call.query(VersionsQuery)
    stmt = select(ConfigVersion).order_by(ConfigVersion.id.desc()).limit(q.limit)
    if q.before is not None:
        stmt = stmt.where(ConfigVersion.id < q.before)
    async with call.app[keys.SESSIONS]() as session:
        rows = (await session.scalars(stmt)).all()
        index = await scope_index(session, ((c["scope"], c["scope_ref"]) for v in rows for c in v.changes))
    shown = [_version_out(v, index, call.user) for v in rows]
    # A restricted caller is not told of versions that changed only other sites' settings.
    return VersionsOut(items=[v for v in shown if v.changes or call.user.site_ids is None])


@router.route("GET", "/config/versions/{version}", role=Role.SUPERVISOR, response=VersionOut, tags=TAGS,
              errors=(404,))
async def config_version(call: Call[NoBody]) -> VersionOut:
    """One version with its changes (old and new values)."""
    async with call.app[keys.SESSIONS]() as session:
        version = await session.get(ConfigVersion, _version_id(call))
    if version is None:
        raise NotFound("no such configuration version")
    out = _version_out(version, await _index(call, version.changes), call.user)
    if not out.changes and call.user.site_ids is not None:
        raise NotFound("no such configuration version")
    return out


@router.route("POST", "/config/versions/{version}/restore", role=Role.ADMIN, every_site=True,
              response=VersionOut, status=201,
              tags=TAGS, errors=(404, 409))
async def config_restore(call: Call[NoBody]) -> VersionOut:
    """Restore the configuration as it was right after that version (a new, audited version)."""
    version = await _service(call).restore(_version_id(call), actor_of(call))
    await _announce(call, version)
    return _version_out(version)


def _version_id(call: Call[Any]) -> int:
    raw = call.request.match_info["version"]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"no such configuration version: '{raw}'")
    return int(raw)


class RefreshOut(BaseModel):
    refreshed: bool
    shared: bool = Field(description="True when other nodes were told through Redis")


@router.route("POST", "/config/refresh", role=Role.ADMIN, response=RefreshOut, tags=TAGS)
async def config_refresh(call: Call[NoBody]) -> RefreshOut:
    """Drop every cached configuration value on every node now."""
    service = _service(call)
    await service.refresh()
    return RefreshOut(refreshed=True, shared=service.cache.shared)


async def config_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS].config_cache
    cache = ConfigCache(settings.ttl_s, settings.redis_url, settings.channel, settings.refresh_margin_s)
    await cache.start()
    app[CONFIG] = ConfigService(app[keys.SESSIONS], cache)
    yield
    await cache.close()
