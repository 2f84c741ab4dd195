"""SLA compliance per analytics model and site, from what each heartbeat carries: the jobs each model ran since
the edge's previous heartbeat and how many answered within the model's SLA (vms_server.cloudsync.model_sla).

Rows are per edge, site, model and UTC day, summed as heartbeats arrive. Compliance over a period is the jobs
within the SLA over all jobs; the p95 shown is the worst p95 any one heartbeat reported (p95s of separate
batches cannot be added up into the period's true p95, and the worst one is what HQ must look at)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from vms_cloud_sync.backend.models import ModelSla
from vms_cloud_sync.protocol.sync import ModelSlaSample

NO_SITE = uuid.UUID(int=0)


async def record(session: AsyncSession, tenant_id: uuid.UUID, edge_id: uuid.UUID, now: dt.datetime,
                 samples: list[ModelSlaSample]) -> None:
    """Add one heartbeat's samples to their model's and site's day."""
    day = now.astimezone(dt.UTC).date()
    # the same model and site twice in one heartbeat become one row (an upsert cannot touch a row twice)
    merged: dict[tuple[uuid.UUID, str], tuple[int, int, float, float]] = {}
    for s in samples:
        if s.jobs == 0:
            continue
        key = (s.site_id or NO_SITE, s.model)
        jobs, within, p95, _ = merged.get(key, (0, 0, 0.0, 0.0))
        merged[key] = (jobs + s.jobs, within + min(s.within_sla, s.jobs), max(p95, s.p95_ms), s.sla_ms)
    if not merged:
        return
    rows = [{"tenant_id": tenant_id, "edge_id": edge_id, "site_id": site_id, "model": model, "day": day,
             "jobs": jobs, "within_sla": within, "worst_p95_ms": p95, "sla_ms": sla}
            for (site_id, model), (jobs, within, p95, sla) in merged.items()]
    stmt = insert(ModelSla).values(rows)
    table = ModelSla.__table__
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["tenant_id", "edge_id", "site_id", "model", "day"],
        set_={"jobs": table.c.jobs + stmt.excluded.jobs,
              "within_sla": table.c.within_sla + stmt.excluded.within_sla,
              "worst_p95_ms": func.greatest(table.c.worst_p95_ms, stmt.excluded.worst_p95_ms),
              "sla_ms": stmt.excluded.sla_ms}))


@dataclass(frozen=True)
class ModelSiteFigure:
    """One analytics model on one site over the period."""

    model: str
    site_id: uuid.UUID | None
    jobs: int
    within_sla: int
    worst_p95_ms: float
    sla_ms: float

    @property
    def compliance_pct(self) -> float:
        return 100.0 * self.within_sla / self.jobs if self.jobs else 0.0


async def figures(session: AsyncSession, since: dt.date) -> list[ModelSiteFigure]:
    """Per model and site from `since` (a UTC day) on, the least compliant first. The SLA shown is the
    largest reported in the period (a site's configuration may have changed in between)."""
    rows = (await session.execute(
        select(ModelSla.model, ModelSla.site_id, func.sum(ModelSla.jobs), func.sum(ModelSla.within_sla),
               func.max(ModelSla.worst_p95_ms), func.max(ModelSla.sla_ms))
        .where(ModelSla.day >= since).group_by(ModelSla.model, ModelSla.site_id))).all()
    out = [ModelSiteFigure(model, None if site == NO_SITE else site, int(jobs), int(within), float(p95),
                           float(sla)) for model, site, jobs, within, p95, sla in rows if jobs]
    return sorted(out, key=lambda f: (f.compliance_pct, f.model))
