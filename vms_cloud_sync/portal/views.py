"""Portal pages: login, the events list and one event. They read through the same tenant-scoped services as
the API; the login sets an HttpOnly, SameSite=Strict cookie holding the same signed token the API accepts.
The other pages are in `pages`, what they share in `web`."""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from pydantic import ValidationError

from vms_cloud_sync.backend import actions, hq, keys
from vms_cloud_sync.backend.auth import COOKIE, MFA_SETUP
from vms_cloud_sync.backend.db import scoped
from vms_cloud_sync.backend.routes_hq import login_with
from vms_cloud_sync.backend.schemas import CloudEventOut, EventFilter, LoginIn
from vms_cloud_sync.portal import acting, operator_pages, pages, platform
from vms_cloud_sync.portal.web import (
    names,
    page,
    portal_pages,
    problems,
    safe_next,
    set_login_cookie,
    tenant,
    user,
)
from vms_common.errors import NotFound, RateLimited, Unauthenticated

HERE = Path(__file__).parent
_NO_ZONE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


async def login_form(request: web.Request) -> web.Response:
    return page(request, "login.html", None, error=None, form={"next": safe_next(request.query.get("next", ""))})


async def login_submit(request: web.Request) -> web.Response:
    form = await request.post()
    typed = {"organisation": str(form.get("organisation", "")), "username": str(form.get("username", "")),
             "next": safe_next(str(form.get("next", "")))}
    code = str(form.get("code", "")).strip() or None
    try:
        body = LoginIn(organisation=typed["organisation"], username=typed["username"],
                       password=str(form.get("password", "")), code=code)
        out = await login_with(request.app, body, request.remote or "unknown")
    except Unauthenticated as exc:
        if exc.code == "mfa_required":  # the password was right: ask again with the code field
            return page(request, "login.html", None, 401, mfa=True, form=typed,
                        error="Enter your password again with the code from your authenticator app.")
        return page(request, "login.html", None, 401, error="Wrong organisation, username or password.",
                    form=typed, mfa=code is not None)
    except ValidationError:  # what was typed stays, except the password
        return page(request, "login.html", None, 401, error="Wrong organisation, username or password.",
                    form=typed, mfa=code is not None)
    except RateLimited as exc:
        response = page(request, "login.html", None, 429, form=typed,
                        error=f"Too many failed logins; try again in {exc.retry_after} s.")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if out.tenant_id is None:  # a platform operator (no organisation): the licences they issue
        target = "/portal/platform/licences"
    else:
        target = "/portal/mfa" if out.role == MFA_SETUP else typed["next"]
    redirect = web.HTTPFound(target)
    set_login_cookie(redirect, request, out.access_token)
    raise redirect


async def logout(request: web.Request) -> web.Response:
    """End the login: the token itself is revoked (clearing the cookie alone left it valid for hours)."""
    token = request.cookies.get(COOKIE)
    if token:
        await request.app[keys.AUTHENTICATOR].revoke(token)
    redirect = web.HTTPFound("/portal/login")
    redirect.del_cookie(COOKIE, path="/")
    raise redirect


@dataclass
class EventRow:
    """A row of the events list: an event and how many like it (same camera, type and status) follow it
    directly, so a flapping warning is one row with a count instead of a page of identical rows."""

    event: CloudEventOut
    repeats: int = 1


def group(events: list[CloudEventOut]) -> list[EventRow]:
    rows: list[EventRow] = []
    for ev in events:
        last = rows[-1].event if rows else None
        if last is not None and (last.camera_id, last.event_type, last.status) == (
                ev.camera_id, ev.event_type, ev.status):
            rows[-1].repeats += 1
        else:
            rows.append(EventRow(ev))
    return rows


def _event_query(request: web.Request) -> dict[str, str]:
    """The filled-in filters; a browser's datetime-local field has no zone, and the portal shows UTC."""
    query = {k: v for k, v in request.query.items() if v}
    for key in ("since", "until"):
        if key in query and _NO_ZONE.match(query[key]):
            query[key] += "+00:00"
    return query


async def events_page(request: web.Request) -> web.Response:
    """An invalid filter shows what is wrong and no list (showing every event under it misled)."""
    who = await user(request)
    filters = {k: v for k, v in request.query.items() if v and k != "cursor"}
    query = _event_query(request)
    context = await names(request, tenant(who))
    async with scoped(request.app[keys.SESSIONS], tenant(who)) as session:
        types = await hq.event_types(session)
        try:
            f = EventFilter.model_validate(query)
        except ValidationError as exc:
            return page(request, "events.html", who, 400, rows=[], total=0, next_cursor=None, filters=filters,
                        types=types, error=problems(exc), **context)
        rows, cursor = await hq.list_events(session, f)
        total = await hq.count_events(session, f)
    return page(request, "events.html", who, rows=group([hq.event_out(r) for r in rows]), total=total,
                next_cursor=cursor, filters=filters, types=types, error=None, **context)


CSV_MAX_ROWS = 10_000
CSV_COLUMNS = ("time_utc", "type", "priority", "status", "site", "camera", "event_id", "plate", "clip")


def _cell(value: object) -> str:
    """A spreadsheet would run a cell starting with = + - or @ (a camera name an edge sent) as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


async def events_csv(request: web.Request) -> web.Response:
    """The events the same filters select, as CSV (newest first, at most CSV_MAX_ROWS), names not ids."""
    who = await user(request)
    query = {k: v for k, v in _event_query(request).items() if k not in ("cursor", "limit")}
    try:
        f = EventFilter.model_validate({**query, "limit": 500})
    except ValidationError as exc:
        raise web.HTTPBadRequest(text=f"The filter is not valid: {problems(exc)}") from None
    context = await names(request, tenant(who))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    written = 0
    async with scoped(request.app[keys.SESSIONS], tenant(who)) as session:
        while written < CSV_MAX_ROWS:
            rows, cursor = await hq.list_events(session, f)
            for ev in rows:
                cam = context["cams"].get(ev.camera_id)
                details = ev.payload.get("details")
                plate = details.get("plate", "") if isinstance(details, dict) else ""
                writer.writerow([_cell(v) for v in (
                    ev.timestamp.strftime("%Y-%m-%d %H:%M:%S"), ev.event_type, ev.priority, ev.status,
                    context["site_names"].get(ev.site_id, ""), cam.name if cam else ev.camera_id or "", ev.id, plate,
                    "yes" if ev.clip_id else "")])
            written += len(rows)
            if cursor is None:
                break
            f = f.model_copy(update={"cursor": cursor})
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="events.csv"'})


async def event_page(request: web.Request) -> web.Response:
    who = await user(request)
    try:
        event_id = uuid.UUID(request.match_info["event_id"])
    except ValueError:
        raise web.HTTPNotFound(text="There is no such event.") from None
    async with scoped(request.app[keys.SESSIONS], tenant(who)) as session:
        try:
            ev = hq.event_out(await hq.get_event(session, event_id))
        except NotFound:
            raise web.HTTPNotFound(text="There is no such event.") from None
        done = await actions.for_target(session, str(event_id))
    box = (ev.payload.get("detection") or {}).get("bounding_box")
    if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box)):
        box = None
    return page(request, "event.html", who, event=ev, box=box, notes=ev.payload.get("notes") or [],
                tags=ev.payload.get("tags") or [], actions=done, **await names(request, tenant(who)))


async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/portal/overview")


async def favicon(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/portal/static/favicon.svg")


def install(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    env.filters["short"] = lambda value: str(value)[:8]
    app.middlewares.append(portal_pages)
    app.router.add_get("/", root)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/portal", root)
    app.router.add_get("/portal/", root)
    app.router.add_get("/portal/login", login_form)
    app.router.add_post("/portal/login", login_submit)
    app.router.add_get("/portal/logout", logout)
    app.router.add_get("/portal/events", events_page)
    app.router.add_get("/portal/events.csv", events_csv)
    app.router.add_get("/portal/events/{event_id}", event_page)
    pages.install(app)
    acting.install(app)
    platform.install(app)
    operator_pages.install(app)
    app.router.add_static("/portal/static/", HERE / "static")
