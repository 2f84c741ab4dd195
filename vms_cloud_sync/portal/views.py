"""Portal pages. They read through the same tenant-scoped services as the API; the login sets an
HttpOnly, SameSite=Strict cookie holding the same signed token the API accepts."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from pydantic import ValidationError

from vms_cloud_sync.backend import hq, keys
from vms_cloud_sync.backend.auth import COOKIE, CloudPrincipal
from vms_cloud_sync.backend.db import scoped
from vms_cloud_sync.backend.routes_hq import login_with
from vms_cloud_sync.backend.schemas import EventFilter, LoginIn
from vms_common.errors import NotFound, RateLimited, Unauthenticated

HERE = Path(__file__).parent


async def _user(request: web.Request) -> CloudPrincipal:
    """The logged-in tenant user, or a redirect to the login page."""
    who = await request.app[keys.AUTHENTICATOR](request)
    if not isinstance(who, CloudPrincipal) or who.tenant_id is None or who.edge_id is not None:
        raise web.HTTPFound("/portal/login")
    return who


def _page(request: web.Request, template: str, who: CloudPrincipal | None, **context: Any) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, {"who": who, **context})
    response.headers["Content-Security-Policy"] = "default-src 'self'; media-src 'self' blob:"
    return response


async def login_form(request: web.Request) -> web.Response:
    return _page(request, "login.html", None, error=None)


async def login_submit(request: web.Request) -> web.Response:
    form = await request.post()
    try:
        body = LoginIn(organisation=str(form.get("organisation", "")), username=str(form.get("username", "")),
                       password=str(form.get("password", "")))
        out = await login_with(request.app, body, request.remote or "unknown")
    except (ValidationError, Unauthenticated):
        response = _page(request, "login.html", None, error="Wrong organisation, username or password.")
        response.set_status(401)
        return response
    except RateLimited as exc:
        response = _page(request, "login.html", None, error=f"Too many failed logins; try again in "
                                                             f"{exc.retry_after} s.")
        response.set_status(429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if out.tenant_id is None:
        response = _page(request, "login.html", None, error="Platform operators use the API, not the portal.")
        response.set_status(403)
        return response
    redirect = web.HTTPFound("/portal/events")
    redirect.set_cookie(COOKIE, out.access_token, httponly=True, samesite="Strict", path="/",
                        secure=request.secure)
    raise redirect


async def logout(request: web.Request) -> web.Response:
    """End the login: the token itself is revoked (clearing the cookie alone left it valid for hours)."""
    token = request.cookies.get(COOKIE)
    if token:
        await request.app[keys.AUTHENTICATOR].revoke(token)
    redirect = web.HTTPFound("/portal/login")
    redirect.del_cookie(COOKIE, path="/")
    raise redirect


async def events_page(request: web.Request) -> web.Response:
    who = await _user(request)
    query = {k: v for k, v in request.query.items() if v}
    try:
        f = EventFilter.model_validate(query)
        error = None
    except ValidationError as exc:
        f = EventFilter.model_validate({})
        error = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    assert who.tenant_id is not None
    async with scoped(request.app[keys.SESSIONS], who.tenant_id) as session:
        rows, cursor = await hq.list_events(session, f)
        sites = await hq.sites(session)
    filters = {k: v for k, v in query.items() if k != "cursor"}
    return _page(request, "events.html", who, events=[hq.event_out(r) for r in rows], next_cursor=cursor,
                 filters=filters, sites=sites, error=error)


async def event_page(request: web.Request) -> web.Response:
    who = await _user(request)
    try:
        event_id = uuid.UUID(request.match_info["event_id"])
    except ValueError:
        raise web.HTTPNotFound(text="no such event") from None
    assert who.tenant_id is not None
    async with scoped(request.app[keys.SESSIONS], who.tenant_id) as session:
        try:
            ev = hq.event_out(await hq.get_event(session, event_id))
        except NotFound:
            raise web.HTTPNotFound(text="no such event") from None
    return _page(request, "event.html", who, event=ev)


async def sites_page(request: web.Request) -> web.Response:
    who = await _user(request)
    assert who.tenant_id is not None
    async with scoped(request.app[keys.SESSIONS], who.tenant_id) as session:
        sites, edges = await hq.sites(session), await hq.edges(session)
    return _page(request, "sites.html", who, sites=sites, edges=edges)


async def licences_page(request: web.Request) -> web.Response:
    who = await _user(request)
    assert who.tenant_id is not None
    async with scoped(request.app[keys.SESSIONS], who.tenant_id) as session:
        items = await hq.licence_list(session)
    return _page(request, "licences.html", who, licences=items)


async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/portal/events")


def install(app: web.Application) -> None:
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    app.router.add_get("/", root)
    app.router.add_get("/portal", root)
    app.router.add_get("/portal/login", login_form)
    app.router.add_post("/portal/login", login_submit)
    app.router.add_get("/portal/logout", logout)
    app.router.add_get("/portal/events", events_page)
    app.router.add_get("/portal/events/{event_id}", event_page)
    app.router.add_get("/portal/sites", sites_page)
    app.router.add_get("/portal/licences", licences_page)
    app.router.add_static("/portal/static/", HERE / "static")
