"""SLA compliance per analytics model and site (issue 25, statistics): the edge's sampler turns the watchdog's
job timings into per-heartbeat figures (each job once), the real backend sums them per tenant, site, model
and day, and the statistics page shows them in headless Chromium; another tenant's viewer sees none of it."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.conftest import HQ_PASSWORD, Cloud
from tests.cloud.test_portal import browser  # noqa: F401  (the fixture)
from tests.cloud.test_portal_pages import _login, portal_cloud  # noqa: F401  (a fixture)
from vms_server.cloudsync.model_sla import samples
from vms_server.watchdog.settings import WatchdogSettings
from vms_server.watchdog.sla import SlaMonitor
from vms_server.watchdog.timings import JobTimings


def test_sampler_sends_each_job_once_per_model_and_site() -> None:
    clock = [1000.0]
    timings = JobTimings(clock=lambda: clock[0])
    monitor = SlaMonitor(timings, WatchdogSettings())  # MEDIUM: 2000 ms, HIGH: 500 ms
    north, gate, yard, loose = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    site_of: dict[uuid.UUID, uuid.UUID | None] = {gate: north, yard: north, loose: None}
    timings.record("motion", "MEDIUM", gate, 10, 90, True)  # before the agent's first heartbeat: never sent
    assert samples(monitor, site_of) == []
    for queued, run, ok in ((10, 90, True), (10, 190, True), (500, 2000, True), (10, 50, False)):
        clock[0] += 1
        timings.record("motion", "MEDIUM", gate if ok else yard, queued, run, ok)
    clock[0] += 1
    timings.record("anpr", "HIGH", loose, 100, 500, True)  # 600 ms: over the HIGH 500 ms SLA
    got = {(s.model, s.site_id): s for s in samples(monitor, site_of)}
    assert set(got) == {("motion", north), ("anpr", None)}
    motion = got[("motion", north)]
    # late (2500 ms) and failed jobs are not within the SLA
    assert (motion.jobs, motion.within_sla, motion.sla_ms, motion.p95_ms) == (4, 2, 2000, 2500)
    assert (got[("anpr", None)].jobs, got[("anpr", None)].within_sla, got[("anpr", None)].sla_ms) == (1, 0, 500)
    assert samples(monitor, site_of) == []  # nothing new: nothing sent twice
    clock[0] += 1
    timings.record("motion", "MEDIUM", yard, 0, 100, True)
    again = samples(monitor, site_of)
    assert [(s.model, s.jobs, s.within_sla) for s in again] == [("motion", 1, 1)]


async def _beat(cloud: Cloud, edge: str, site: uuid.UUID, analytics: list[dict[str, Any]],
                status: int = 200) -> None:
    await cloud.ok("POST", "/api/v1/edge/heartbeat", edge, status, json={
        "at": dt.datetime.now(dt.UTC).isoformat(), "sites": [{"site_id": str(site), "name": "North"}],
        "analytics_sla": analytics})


async def _statistics(cloud: Cloud, browser: Any, org: str, username: str) -> Any:  # noqa: F811
    """A new browser page logged in as `username` of `org`, on the statistics of the last 7 days."""
    page = await browser.new_page()
    await _login(page, cloud, org, username)
    await page.goto(f"{cloud.url}/portal/statistics?days=7")
    return page


@pytest.mark.slow
async def test_analytics_sla_summed_per_site_and_model(portal_cloud: Cloud, browser: Any,  # noqa: F811
                                                       tmp_path: Path) -> None:
    cloud = portal_cloud
    _, admin = await cloud.tenant("acme")
    edge = await cloud.enrolled_edge(admin, "store-1")
    site = str(uuid.uuid4())
    north = uuid.UUID(site)

    def sample(model: str, jobs: int, within: int, p95: float, sla: float) -> dict[str, Any]:
        return {"model": model, "site_id": site, "jobs": jobs, "within_sla": within, "p95_ms": p95, "sla_ms": sla}

    await _beat(cloud, edge, north, [sample("motion", 100, 100, 120, 2000), sample("anpr", 50, 40, 650, 500)])
    await _beat(cloud, edge, north, [sample("motion", 100, 98, 300, 2000), sample("anpr", 50, 50, 400, 500)])
    await _beat(cloud, edge, north, [sample("motion", 1, 2, 1, 0)], status=422)  # sla_ms must be > 0

    page = await _statistics(cloud, browser, "acme", "acme-admin")
    rows = [" ".join(r.split()) for r in await page.locator("#sla-analytics tbody tr").all_inner_texts()]
    # the least compliant first: anpr 90 of 100 jobs within 500 ms (red), motion 198 of 200 (99 %: met)
    assert rows == ["anpr North 500 ms 100 90 90.0 % 650 ms", "motion North 2000 ms 200 198 99.0 % 300 ms"], rows
    assert await page.locator("#sla-analytics tr.below").count() == 1
    assert "anpr" in await page.locator("#sla-analytics tr.below").inner_text()

    globex, gadmin = await cloud.tenant("globex")
    await cloud.ok("POST", f"/api/v1/tenants/{globex}/users", gadmin, 201,
                   json={"username": "gus", "password": HQ_PASSWORD, "role": "viewer"})
    other = await _statistics(cloud, browser, "globex", "gus")
    assert "No analytics jobs reported in this period." in await other.inner_text("#sla-analytics")
