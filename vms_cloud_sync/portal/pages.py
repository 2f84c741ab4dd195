"""Portal pages across sites: the overview (each site's live state), sites and servers, incidents,
statistics (charts drawn here as SVG: no script library, nothing from a CDN) and licences."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from aiohttp import web
from pydantic import ValidationError

from vms_cloud_sync.backend import actions, hq, keys, model_sla, overview, uptime
from vms_cloud_sync.backend.db import scoped
from vms_cloud_sync.backend.schemas import IncidentFilter
from vms_cloud_sync.portal.platform import licence_state
from vms_cloud_sync.portal.web import names, page, problems, tenant, user
from vms_common.errors import NotFound

STAT_DAYS = (7, 14, 30, 90)


async def overview_page(request: web.Request) -> web.Response:
    who = await user(request)
    now = dt.datetime.now(dt.UTC)
    async with scoped(request.app[keys.SESSIONS], tenant(who)) as session:
        states = await overview.site_states(session, now)
        newest = (await hq.licence_list(session))[:1]
    # The newest licence is the one the edges run on: HQ is warned before it ends, not when sites stop.
    until, state = licence_state(newest[0], now) if newest else (None, "none")
    return page(request, "overview.html", who, states=states, now=now, licence_until=until, licence_state=state)


async def sites_page(request: web.Request) -> web.Response:
    """Edges with their real state (an edge silent for 10 minutes is not "active") and every camera, the
    ones not online first."""
    who = await user(request)
    now = dt.datetime.now(dt.UTC)
    async with scoped(request.app[keys.SESSIONS], tenant(who)) as session:
        sites, edges = await hq.sites(session), await hq.edges(session)
        cams = sorted((await hq.cameras(session)).values(), key=lambda c: (c.state == "online", c.name))
    edge_names = {e.id: e.name for e in edges}
    states = {e.id: overview.edge_state(e.revoked_at, e.last_heartbeat_at, now) for e in edges}
    return page(request, "sites.html", who, sites=sites, edges=edges, states=states, cameras=cams,
                site_names={s.id: s.name for s in sites}, edge_names=edge_names)


async def incidents_page(request: web.Request) -> web.Response:
    who = await user(request)
    query = {k: v for k, v in request.query.items() if v}
    context = await names(request, tenant(who))
    try:
        f = IncidentFilter.model_validate(query)
    except ValidationError as exc:
        return page(request, "incidents.html", who, 400, incidents=[], filters=query,
                    error=problems(exc), **context)
    async with scoped(request.app[keys.SESSIONS], tenant(who)) as session:
        items = await overview.incidents(session, f)
    return page(request, "incidents.html", who, incidents=items, filters=query, error=None, **context)


REPORT_WINDOW = dt.timedelta(minutes=10)


async def incident_report(request: web.Request) -> web.Response:
    """A printable report of one incident: details, timeline, HQ's actions, and the camera's events around its
    opening with their snapshots."""
    who = await user(request)
    try:
        incident_id = str(uuid.UUID(request.match_info["incident_id"]))
    except ValueError:
        raise web.HTTPNotFound(text="There is no such incident.") from None
    context = await names(request, tenant(who))
    async with scoped(request.app[keys.SESSIONS], tenant(who)) as session:
        try:
            item = await overview.incident(session, incident_id)
        except NotFound:
            raise web.HTTPNotFound(text="There is no such incident.") from None
        near = []
        if item.camera_id is not None and item.opened_at is not None:
            near = [hq.event_out(e) for e in await overview.events_near(session, item.camera_id, item.opened_at,
                                                                        REPORT_WINDOW)]
        done = await actions.for_target(session, incident_id)
    return page(request, "incident.html", who, incident=item, events=near, actions=done,
                printed=dt.datetime.now(dt.UTC), **context)


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


def bars(items: list[tuple[str, int]], width: float = 600, height: float = 160) -> list[Bar]:
    """Geometry of a bar chart in a `width` x `height` SVG box (values scaled to the largest)."""
    if not items:
        return []
    top = max(v for _, v in items) or 1
    step = width / len(items)
    return [Bar(label, value, i * step + step * 0.1, height - value / top * height, step * 0.8,
                value / top * height) for i, (label, value) in enumerate(items)]


UPTIME_ROWS = 20  # the worst cameras charted; the table lists them all


@dataclass(frozen=True)
class HBar:
    label: str
    pct: float
    y: float
    width: float


def hbars(items: list[tuple[str, float]], width: float = 360, row: float = 22) -> list[HBar]:
    """Geometry of a horizontal percentage chart: one row per item, 100 % filling `width`."""
    return [HBar(label, pct, i * row, max(0.0, min(100.0, pct)) / 100 * width) for i, (label, pct) in enumerate(items)]


async def statistics_page(request: web.Request) -> web.Response:
    who = await user(request)
    try:
        days = int(request.query.get("days", "14"))
    except ValueError:
        days = 0
    if days not in STAT_DAYS:
        raise web.HTTPBadRequest(text=f"days must be one of {', '.join(map(str, STAT_DAYS))}")
    context = await names(request, tenant(who))
    now = dt.datetime.now(dt.UTC)
    target = request.app[keys.SETTINGS].portal.sla_uptime_pct
    since = (now - dt.timedelta(days=days - 1)).date()
    async with scoped(request.app[keys.SESSIONS], tenant(who)) as session:
        stats = await overview.statistics(session, now, days, context["site_names"])
        cams = await uptime.cameras(session, since)
        analytics = await model_sla.figures(session, since)
    per_model = uptime.models(cams, target)
    return page(request, "statistics.html", who, stats=stats, day_bars=bars(stats.by_day),
                type_bars=bars(stats.by_type[:12]), site_bars=bars(stats.by_site[:12]), choices=STAT_DAYS,
                uptime_cams=cams, uptime_bars=hbars([(c.name, c.uptime_pct) for c in cams[:UPTIME_ROWS]]),
                models=per_model, model_bars=hbars([(m.model, m.compliance_pct) for m in per_model]),
                sla_target=target, site_names=context["site_names"], analytics=analytics,
                jobs_target=request.app[keys.SETTINGS].portal.sla_jobs_pct)


async def licences_page(request: web.Request) -> web.Response:
    """Each licence with its camera limit against the cameras the edges report, and a warning before expiry."""
    who = await user(request)
    now = dt.datetime.now(dt.UTC)
    async with scoped(request.app[keys.SESSIONS], tenant(who)) as session:
        items = await hq.licence_list(session)
        cams = await hq.cameras(session)
    rows = []
    for lic in items:
        until, state = licence_state(lic, now)
        rows.append({"licence": lic, "until": until, "state": state})
    in_use = sum(1 for c in cams.values() if c.state != "disabled")
    return page(request, "licences.html", who, rows=rows, in_use=in_use)


def install(app: web.Application) -> None:
    app.router.add_get("/portal/overview", overview_page)
    app.router.add_get("/portal/sites", sites_page)
    app.router.add_get("/portal/incidents", incidents_page)
    app.router.add_get("/portal/incidents/{incident_id}", incident_report)
    app.router.add_get("/portal/statistics", statistics_page)
    app.router.add_get("/portal/licences", licences_page)
