"""What every portal page shares: the logged-in user, rendering with the security headers, CSRF tokens of
forms, names for ids, and HTML error pages (the API's JSON errors are for programs, not for a browser)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from pydantic import ValidationError

from vms_cloud_sync.backend import hq, keys
from vms_cloud_sync.backend.auth import COOKIE, MFA_SETUP, CloudPrincipal
from vms_cloud_sync.backend.db import scoped
from vms_common.auth.roles import Role

logger = logging.getLogger(__name__)
# No inline script or style anywhere: scripts and styles come from /portal/static only; images may be the
# event snapshots (same origin); nothing may frame the portal.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def user(request: web.Request, *, mfa_setup: bool = False) -> CloudPrincipal:
    """The logged-in tenant user, or a redirect to the login page (or to MFA setup for a user whose tenant
    requires MFA they have not set up; `mfa_setup` admits them, on the setup pages only)."""
    who = await request.app[keys.AUTHENTICATOR](request)
    if not isinstance(who, CloudPrincipal) or who.tenant_id is None or who.edge_id is not None:
        back = "" if request.method != "GET" else "?" + urlencode({"next": request.path_qs})
        raise web.HTTPFound(f"/portal/login{back}")
    if who.hq_role == MFA_SETUP and not mfa_setup:
        raise web.HTTPFound("/portal/mfa")
    return who


def tenant(who: CloudPrincipal) -> uuid.UUID:
    assert who.tenant_id is not None  # user() admits tenant users only
    return who.tenant_id


def safe_next(value: str) -> str:
    """Where to go after login: a portal page of this site only (never `//elsewhere` or a full URL)."""
    if value.startswith("/portal/") and not value.startswith("/portal/login") and "\\" not in value:
        return value
    return "/portal/overview"


def over_tls(request: web.Request) -> bool:
    """Whether the browser reached us over TLS: directly, or through a proxy in `server.trusted_proxies` that
    says so in X-Forwarded-Proto (anyone else could send that header; from them it is ignored)."""
    if request.secure:
        return True
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    if proto != "https" or not request.remote:
        return False
    try:
        peer = ipaddress.ip_address(request.remote)
    except ValueError:
        return False
    return any(peer in net for net in request.app[keys.SETTINGS].server.trusted_proxies)


def set_login_cookie(response: web.StreamResponse, request: web.Request, token: str) -> None:
    """The login cookie: HttpOnly (no script reads it), SameSite=Strict, Secure whenever the browser is on TLS."""
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/", secure=over_tls(request))


def csrf_token(request: web.Request) -> str:
    """A form token bound to this login: a page of another site cannot know it (the cookie is HttpOnly)."""
    session = request.cookies.get(COOKIE, "")
    return hmac.new(request.app[keys.SIGNER].key, b"csrf:" + session.encode(), hashlib.sha256).hexdigest()[:40]


def check_csrf(request: web.Request, form: Any) -> None:
    """Raises 403 when a posted form lacks this login's CSRF token."""
    sent = str(form.get("csrf", ""))
    if not sent or not hmac.compare_digest(sent, csrf_token(request)):
        raise web.HTTPForbidden(text="the form is stale or did not come from the portal; reload the page")


def can_act(who: CloudPrincipal | None) -> bool:
    """Analysts and tenant admins act on events and incidents; viewers only look."""
    return who is not None and who.role in (Role.ADMIN, Role.SUPERVISOR)


def page(request: web.Request, template: str, who: CloudPrincipal | None, status: int = 200,
         **context: Any) -> web.Response:
    ctx = {"who": who, "can_act": can_act(who), "is_admin": who is not None and who.role is Role.ADMIN,
           "csrf": csrf_token(request) if who is not None else "",
           "refresh_s": request.app[keys.SETTINGS].portal.refresh_s, **context}
    response = aiohttp_jinja2.render_template(template, request, ctx, status=status)
    return response


def problems(exc: ValidationError) -> str:
    """A validation error as one line a person can read: `field: what is wrong; ...`."""
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


async def names(request: web.Request, tenant_id: uuid.UUID) -> dict[str, Any]:
    """Sites and cameras by id, for pages that would otherwise show UUIDs."""
    async with scoped(request.app[keys.SESSIONS], tenant_id) as session:
        sites = await hq.sites(session)
        cams = await hq.cameras(session)
    return {"sites": sites, "site_names": {s.id: s.name for s in sites}, "cams": cams}


@web.middleware
async def portal_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Under /portal: errors become HTML pages, and pages are never cached (after logout the back button must
    not show tenant data) and carry the strict Content-Security-Policy."""
    if not request.path.startswith("/portal") or request.path.startswith("/portal/static/"):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            _secure(exc)
            raise
        response = _error_page(request, exc.status, exc.text or exc.reason)
    _secure(response)
    return response


def _error_page(request: web.Request, status: int, message: str) -> web.Response:
    if message.startswith(f"{status}:"):
        message = message.split(":", 1)[1].strip()
    title = {404: "Not found", 403: "Not allowed", 405: "Not allowed"}.get(status, "Something went wrong")
    return aiohttp_jinja2.render_template("error.html", request, {"who": None, "title": title, "message": message,
                                                                 "status": status}, status=status)


def _secure(response: web.StreamResponse) -> None:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CSP
