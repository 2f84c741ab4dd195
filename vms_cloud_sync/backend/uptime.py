"""Camera uptime and SLA compliance per camera model, from what the sites already send: every heartbeat
lists each camera's state (and, from sites new enough, its make and model).

Each heartbeat adds the time since the edge's previous one to every camera's `observed_s` for the day, and
to `online_s` when the camera is online. A gap longer than SILENT_AFTER adds nothing: while an edge is
silent nobody knows what its cameras did, and counting it either way would make the figure up. Disabled
cameras are not counted (an operator switched them off; that is not downtime)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from vms_cloud_sync.backend.health import SILENT_AFTER
from vms_cloud_sync.backend.models import CameraUptime
from vms_cloud_sync.protocol.sync import CameraHealth

UNKNOWN_MODEL = "model not reported"


async def record(session: AsyncSession, tenant_id: uuid.UUID, edge_id: uuid.UUID, previous: dt.datetime | None,
                 now: dt.datetime, cameras: list[CameraHealth]) -> None:
    """Add the time since the edge's previous heartbeat to each camera's day (see the module's docstring)."""
    if previous is None:
        return
    gap = (now - previous).total_seconds()
    if gap <= 0 or gap > SILENT_AFTER.total_seconds():
        return
    rows = [{"tenant_id": tenant_id, "camera_id": c.camera_id, "day": now.astimezone(dt.UTC).date(),
             "edge_id": edge_id, "site_id": c.site_id, "name": c.name, "model": c.model or UNKNOWN_MODEL,
             "observed_s": gap, "online_s": gap if c.state == "online" else 0.0}
            for c in {c.camera_id: c for c in cameras if c.state != "disabled"}.values()]
    if not rows:
        return
    stmt = insert(CameraUptime).values(rows)
    table = CameraUptime.__table__
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["tenant_id", "camera_id", "day"],
        set_={"observed_s": table.c.observed_s + stmt.excluded.observed_s,
              "online_s": table.c.online_s + stmt.excluded.online_s,
              "edge_id": stmt.excluded.edge_id, "site_id": stmt.excluded.site_id, "name": stmt.excluded.name,
              # a site that stops naming the model (downgraded) keeps the one it named before
              "model": func.coalesce(func.nullif(stmt.excluded.model, UNKNOWN_MODEL), table.c.model)}))


@dataclass(frozen=True)
class CameraFigure:
    """One camera's uptime over the period (percent of the observed time)."""

    camera_id: uuid.UUID
    name: str
    site_id: uuid.UUID | None
    model: str
    observed_s: float
    online_s: float

    @property
    def uptime_pct(self) -> float:
        return 100.0 * self.online_s / self.observed_s if self.observed_s else 0.0


@dataclass(frozen=True)
class ModelFigure:
    """A camera model's SLA compliance: how many of its cameras met the uptime target over the period."""

    model: str
    cameras: int
    compliant: int
    uptime_pct: float  # all its cameras' online time over their observed time

    @property
    def compliance_pct(self) -> float:
        return 100.0 * self.compliant / self.cameras if self.cameras else 0.0


async def cameras(session: AsyncSession, since: dt.date) -> list[CameraFigure]:
    """Each camera's uptime from `since` (a UTC day) on, the worst first."""
    rows = (await session.execute(
        select(CameraUptime.camera_id, func.sum(CameraUptime.observed_s), func.sum(CameraUptime.online_s))
        .where(CameraUptime.day >= since).group_by(CameraUptime.camera_id))).all()
    latest = {r.camera_id: r for r in (await session.scalars(
        select(CameraUptime).where(CameraUptime.day >= since).order_by(CameraUptime.day))).all()}
    out = [CameraFigure(cam, latest[cam].name, latest[cam].site_id, latest[cam].model, float(observed or 0),
                        float(online or 0)) for cam, observed, online in rows if observed]
    return sorted(out, key=lambda c: (c.uptime_pct, c.name))


def models(figures: list[CameraFigure], target_pct: float) -> list[ModelFigure]:
    """Per camera model: cameras, those at or above `target_pct` uptime, and the model's overall uptime;
    the least compliant first."""
    grouped: dict[str, list[CameraFigure]] = defaultdict(list)
    for fig in figures:
        grouped[fig.model].append(fig)
    out = [ModelFigure(model, len(figs), sum(f.uptime_pct >= target_pct for f in figs),
                       100.0 * sum(f.online_s for f in figs) / sum(f.observed_s for f in figs))
           for model, figs in grouped.items()]
    return sorted(out, key=lambda m: (m.compliance_pct, m.model))
