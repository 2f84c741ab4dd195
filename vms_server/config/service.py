"""Resolution, changes, versions and rollback of the hierarchical configuration (`app[keys.CONFIG]`).

A key resolves, from the most specific to the least: camera/model, camera, site/model, site,
customer/model, customer, system/model, system, the built-in per-model default, the schema default.
Overrides are stored per level ("layers"); layers are what the cache holds, so a lookup merges at most four
cached dicts and one change invalidates exactly one layer.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_common.errors import Conflict, InvalidInput, NotFound
from vms_server.audit import service as audit
from vms_server.cameras.models import Camera
from vms_server.config import schema
from vms_server.config.cache import ALL, ConfigCache
from vms_server.config.models import ConfigValue, ConfigVersion
from vms_server.org.models import Customer, Site

logger = logging.getLogger(__name__)

SCOPES = ("system", "customer", "site", "camera")
Layer = dict[str, Any]  # "model|key" -> value ("|key" for the general value)


@dataclass(frozen=True)
class Resolved:
    key: str
    value: Any
    level: str  # default | system | customer | site | camera
    model: str | None  # the model whose override supplied the value, None for a general value


@dataclass(frozen=True)
class Change:
    scope: str
    scope_ref: str
    model: str
    key: str
    old: Any
    new: Any

    def as_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "scope_ref": self.scope_ref, "model": self.model, "key": self.key,
                "old": self.old, "new": self.new}


def layer_key(scope: str, ref: str) -> str:
    return "config:system:layer" if scope == "system" else f"config:{scope}:{ref}:layer"


class ConfigService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], cache: ConfigCache) -> None:
        self.sessions = sessions
        self.cache = cache

    # --- reading ------------------------------------------------------------------------------------
    async def _layer(self, scope: str, ref: str) -> Layer:
        async def load() -> Layer:
            async with self.sessions() as session:
                rows = (await session.execute(select(ConfigValue.model, ConfigValue.key, ConfigValue.value)
                                              .where(ConfigValue.scope == scope, ConfigValue.scope_ref == ref)))
                return {f"{m}|{k}": v for m, k, v in rows}

        layer: Layer = await self.cache.get(layer_key(scope, ref), load, critical=scope == "system")
        return layer

    async def _camera_scope(self, camera_id: uuid.UUID) -> tuple[str, str]:
        async def load() -> list[str]:
            async with self.sessions() as session:
                row = (await session.execute(select(Camera.customer_id, Camera.site_id)
                                             .where(Camera.id == camera_id))).first()
            if row is None:
                raise NotFound(f"no such camera: {camera_id}")
            return [str(row[0]), str(row[1])]

        customer, site = await self.cache.get(f"config:camera:{camera_id}:scope", load)
        return customer, site

    async def _site_customer(self, site_id: uuid.UUID) -> str:
        async def load() -> str:
            async with self.sessions() as session:
                customer = await session.scalar(select(Site.customer_id).where(Site.id == site_id))
            if customer is None:
                raise NotFound(f"no such site: {site_id}")
            return str(customer)

        return str(await self.cache.get(f"config:site:{site_id}:scope", load))

    async def _chain(self, camera_id: uuid.UUID | None, site_id: uuid.UUID | None,
                     customer_id: uuid.UUID | None) -> list[tuple[str, Layer]]:
        """The layers that apply, most specific first."""
        refs: list[tuple[str, str]] = []
        if camera_id is not None:
            customer, site = await self._camera_scope(camera_id)
            refs = [("camera", str(camera_id)), ("site", site), ("customer", customer)]
        elif site_id is not None:
            refs = [("site", str(site_id)), ("customer", await self._site_customer(site_id))]
        elif customer_id is not None:
            refs = [("customer", str(customer_id))]
        refs.append(("system", ""))
        return [(scope, await self._layer(scope, ref)) for scope, ref in refs]

    async def resolve(self, key: str, camera_id: uuid.UUID | None = None, model: str | None = None, *,
                      site_id: uuid.UUID | None = None, customer_id: uuid.UUID | None = None) -> Resolved:
        """Contract 7: the effective value of `key` and the level it came from.

        Raises InvalidInput for an unknown key, NotFound for an unknown camera or site.
        """
        spec = _spec(key)
        chain = await self._chain(camera_id, site_id, customer_id)
        return _pick(spec, chain, model if spec.per_model else None)

    async def effective(self, camera_id: uuid.UUID | None = None, model: str | None = None, *,
                        site_id: uuid.UUID | None = None, customer_id: uuid.UUID | None = None
                        ) -> list[Resolved]:
        """Every key resolved for one target (one chain load for all keys)."""
        chain = await self._chain(camera_id, site_id, customer_id)
        return [_pick(spec, chain, model if spec.per_model else None) for spec in schema.keys().values()]

    async def model_requirements(self, model: str) -> dict[str, Any]:
        """System-level stream requirements of a model (cached as `config:model:{name}:requirements`)."""
        async def load() -> dict[str, Any]:
            chain = [("system", await self._layer("system", ""))]
            return {k: _pick(schema.spec_of(k), chain, model).value for k in
                    ("analytics.min_height", "analytics.min_bitrate_kbps", "analytics.min_duration_s",
                     "analytics.overlap_s", "analytics.priority")}

        result: dict[str, Any] = await self.cache.get(f"config:model:{model}:requirements", load, critical=True)
        return result

    # --- changing -----------------------------------------------------------------------------------
    async def set_values(self, scope: str, scope_id: uuid.UUID | None, model: str | None,
                         values: dict[str, Any], actor: audit.Actor, comment: str | None = None) -> ConfigVersion:
        """Apply overrides (None removes one) at one level as one new version, audited in the same
        transaction. Raises InvalidInput (bad key/value/scope), NotFound (unknown target), Conflict (no-op)."""
        ref = await self._check_scope(scope, scope_id)
        model_name = _check_model(model)
        wanted: dict[str, Any] = {}
        problems = []
        for key, value in values.items():
            try:
                spec = _spec(key)
                if model_name and not spec.per_model:
                    raise ValueError("this key cannot be overridden per model")
                wanted[key] = None if value is None else spec.validate(value)
            except (ValueError, InvalidInput) as exc:
                problems.append({"field": key, "message": str(getattr(exc, "message", exc))})
        if problems:
            raise InvalidInput("invalid configuration values", details=problems)
        targets = [(scope, ref, model_name, k, v) for k, v in wanted.items()]
        return await self._apply(targets, actor, comment, restored_from=None)

    async def _apply(self, targets: Sequence[tuple[str, str, str, str, Any]], actor: audit.Actor,
                     comment: str | None, restored_from: int | None) -> ConfigVersion:
        async with self.sessions.begin() as session:
            version = ConfigVersion(actor_id=actor.id, actor=actor.name, comment=comment,
                                    restored_from=restored_from, changes=[])
            session.add(version)
            await session.flush()
            changes = [c for c in [await _write(session, version.id, *t) for t in targets] if c is not None]
            if not changes:
                raise Conflict("nothing to change: the configuration already has these values")
            version.changes = [c.as_dict() for c in changes]
            await audit.record(session, actor, "config.restored" if restored_from else "config.changed",
                               target_type="config", target_id=version.id,
                               old={_label(c): c.old for c in changes}, new={_label(c): c.new for c in changes})
        await self.cache.invalidate(_affected(changes))
        logger.info("configuration version %d: %d change(s)", version.id, len(changes))
        return version

    async def restore(self, version_id: int, actor: audit.Actor) -> ConfigVersion:
        """Make the configuration what it was right after `version_id`; itself a new, audited version."""
        async with self.sessions() as session:
            if await session.get(ConfigVersion, version_id) is None:
                raise NotFound(f"no configuration version {version_id}")
            past: dict[tuple[str, str, str, str], Any] = {}
            history = await session.scalars(select(ConfigVersion).where(ConfigVersion.id <= version_id)
                                            .order_by(ConfigVersion.id))
            for v in history:
                for c in v.changes:
                    past[(c["scope"], c["scope_ref"], c["model"], c["key"])] = c["new"]
            current = {(r.scope, r.scope_ref, r.model, r.key): r.value
                       for r in await session.scalars(select(ConfigValue))}
        targets = [(*k, past.get(k)) for k in sorted(set(past) | set(current)) if past.get(k) != current.get(k)]
        return await self._apply(targets, actor, f"restore of version {version_id}", restored_from=version_id)

    async def refresh(self) -> None:
        """Forget every cached value on every node (the "refresh" button)."""
        await self.cache.invalidate([ALL])

    async def _check_scope(self, scope: str, scope_id: uuid.UUID | None) -> str:
        if scope not in SCOPES:
            raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}")
        if scope == "system":
            if scope_id is not None:
                raise InvalidInput("the system level takes no scope_id")
            return ""
        if scope_id is None:
            raise InvalidInput(f"the {scope} level needs a scope_id")
        table = {"customer": Customer, "site": Site, "camera": Camera}[scope]
        async with self.sessions() as session:
            if await session.get(table, scope_id) is None:
                raise NotFound(f"no such {scope}: {scope_id}")
        return str(scope_id)


async def _write(session: AsyncSession, version: int, scope: str, ref: str, model: str, key: str,
                 value: Any) -> Change | None:
    row = await session.scalar(select(ConfigValue).where(
        ConfigValue.scope == scope, ConfigValue.scope_ref == ref, ConfigValue.model == model,
        ConfigValue.key == key))
    old = row.value if row is not None else None
    if old == value:
        return None
    if value is None:
        assert row is not None
        await session.delete(row)
    elif row is None:
        session.add(ConfigValue(scope=scope, scope_ref=ref, model=model, key=key, value=value, version=version))
    else:
        row.value, row.version = value, version
    return Change(scope, ref, model, key, old, value)


def _pick(spec: schema.KeySpec, chain: list[tuple[str, Layer]], model: str | None) -> Resolved:
    for level, layer in chain:
        if model and f"{model}|{spec.key}" in layer:
            return Resolved(spec.key, layer[f"{model}|{spec.key}"], level, model)
        if f"|{spec.key}" in layer:
            return Resolved(spec.key, layer[f"|{spec.key}"], level, None)
    builtin = schema.model_defaults(model) if model else {}
    if spec.key in builtin:
        return Resolved(spec.key, builtin[spec.key], "default", model)
    return Resolved(spec.key, spec.default, "default", None)


def _spec(key: str) -> schema.KeySpec:
    try:
        return schema.spec_of(key)
    except KeyError:
        raise InvalidInput(f"unknown configuration key '{key}'; GET /api/v1/config/keys lists them") from None


def _check_model(model: str | None) -> str:
    if not model:
        return ""
    if len(model) > 50 or not model.replace("_", "").isalnum():
        raise InvalidInput(f"invalid model name '{model}'")
    return model


def _label(change: Change) -> str:
    where = change.scope if not change.scope_ref else f"{change.scope}:{change.scope_ref}"
    return f"{where}{'/' + change.model if change.model else ''}:{change.key}"


def _affected(changes: list[Change]) -> list[str]:
    keys = {layer_key(c.scope, c.scope_ref) for c in changes}
    if any(c.scope == "system" for c in changes):
        keys |= {f"config:model:{m}:requirements" for m in schema.known_models()}
        keys |= {f"config:model:{c.model}:requirements" for c in changes if c.model}
    return sorted(keys)
