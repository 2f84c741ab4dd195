"""Which configuration levels a caller may see: a site-restricted user sees no other site's or camera's ids.

Stored overrides, versions and `config.changed` pushes name their level by id (`scope`, `scope_ref`); shown
whole, they tell a restricted Supervisor which sites and cameras exist elsewhere and how they are set up.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common.auth.principal import Principal
from vms_server.cameras.models import Camera


@dataclass(frozen=True)
class ScopeIndex:
    """The site of each camera that configuration entries name, to judge entries against a caller's sites."""

    camera_sites: dict[str, uuid.UUID]

    def visible(self, who: Principal, scope: str, ref: str) -> bool:
        """True when `who` may learn of the entry (scope, ref); unknown or foreign ids are never visible."""
        if scope == "system":
            return True
        if scope == "customer":
            return ref == str(who.customer_id)
        if who.site_ids is None:
            return True
        if scope == "site":
            return any(ref == str(site) for site in who.site_ids)
        site = self.camera_sites.get(ref)
        return site is not None and who.can_see_site(site)

    def changes_for(self, who: Principal, changes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [c for c in changes if self.visible(who, c["scope"], c["scope_ref"])]


async def scope_index(session: AsyncSession, refs: Iterable[tuple[str, str]]) -> ScopeIndex:
    """Look up the sites of the cameras among (scope, ref) pairs."""
    ids: set[uuid.UUID] = set()
    for scope, ref in refs:
        if scope == "camera":
            try:
                ids.add(uuid.UUID(ref))
            except ValueError:
                continue
    if not ids:
        return ScopeIndex({})
    rows = (await session.execute(select(Camera.id, Camera.site_id).where(Camera.id.in_(ids)))).all()
    return ScopeIndex({str(camera_id): site_id for camera_id, site_id in rows})
