"""The platform operator's portal page: every tenant's licence with its usage and expiry, and the forms that
renew it (same terms, a new validity period after the current one) or issue a new one. Operators log in on
the same page as tenant users, with the organisation left empty; tenant users never reach these pages.

Signing goes through `licences.issue`, as the API's POST /tenants/{id}/licences does, so the edges pull a
licence issued here exactly as one issued by a script."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select

from vms_cloud_sync.backend import hq, keys, licences
from vms_cloud_sync.backend.auth import CloudPrincipal
from vms_cloud_sync.backend.db import scoped
from vms_cloud_sync.backend.models import Tenant
from vms_cloud_sync.backend.schemas import LicenceIssueIn, LicenceOutHq
from vms_cloud_sync.portal.web import check_csrf, page, problems
from vms_cloud_sync.protocol.licence import Analytics
from vms_common.errors import NotFound, NotReady

logger = logging.getLogger(__name__)
EXPIRY_WARNING = dt.timedelta(days=30)


def licence_state(licence: LicenceOutHq, now: dt.datetime) -> tuple[dt.datetime, str]:
    """(valid until, expired | expiring | valid): `expiring` within EXPIRY_WARNING of the end."""
    until = dt.datetime.fromisoformat(str(licence.terms.get("valid_until")))
    until = until if until.tzinfo else until.replace(tzinfo=dt.UTC)
    return until, "expired" if until < now else "expiring" if until - now < EXPIRY_WARNING else "valid"


async def operator(request: web.Request) -> CloudPrincipal:
    """The logged-in platform operator, or the login page (a tenant user is refused: these are not theirs)."""
    who = await request.app[keys.AUTHENTICATOR](request)
    if not isinstance(who, CloudPrincipal):
        raise web.HTTPFound("/portal/login")
    if not who.platform:
        raise web.HTTPForbidden(text="This page is for the platform operator.")
    return who


@dataclass
class TenantLicence:
    """A tenant with its newest licence (None: never licensed) and the cameras its edges report."""

    id: uuid.UUID
    slug: str
    name: str
    cameras: int
    licence: LicenceOutHq | None
    until: dt.datetime | None
    state: str


async def tenant_licences(request: web.Request, now: dt.datetime) -> list[TenantLicence]:
    """Every tenant, those needing a licence first (none, expired, expiring), then by name."""
    sessions = request.app[keys.SESSIONS]
    async with scoped(sessions, None, platform=True) as session:
        tenants = (await session.scalars(select(Tenant).order_by(Tenant.slug))).all()
    out = []
    for t in tenants:
        async with scoped(sessions, t.id, platform=True) as session:
            items = await hq.licence_list(session)
            cams = await hq.cameras(session)
        newest = items[0] if items else None
        until, state = licence_state(newest, now) if newest else (None, "none")
        out.append(TenantLicence(t.id, t.slug, t.name, sum(1 for c in cams.values() if c.state != "disabled"),
                                 newest, until, state))
    order = {"none": 0, "expired": 1, "expiring": 2, "valid": 3}
    return sorted(out, key=lambda t: (order[t.state], t.slug))


async def licences_page(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    who = await operator(request)
    now = dt.datetime.now(dt.UTC)
    return page(request, "platform_licences.html", who, status, tenants=await tenant_licences(request, now),
                analytics=[a.value for a in Analytics], error=error, now=now)


def _tenant_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["tenant_id"])
    except ValueError:
        raise web.HTTPNotFound(text="There is no such tenant.") from None


async def _sign(request: web.Request, who: CloudPrincipal, tenant_id: uuid.UUID, body: LicenceIssueIn,
                after: dt.datetime | None) -> web.Response:
    try:
        key = licences.load_signing_key(request.app[keys.SETTINGS].data_dir)
    except NotReady as exc:
        return await licences_page(request, f"Cannot sign: {exc}.", 503)
    async with scoped(request.app[keys.SESSIONS], tenant_id, platform=True) as session:
        try:
            row = await licences.issue(session, key, tenant_id, body.max_cameras, body.analytics, body.valid_days,
                                       body.grace_days, who.username, body.server_ids, after=after)
        except NotFound:
            raise web.HTTPNotFound(text="There is no such tenant.") from None
    logger.info("licence issued from the portal", extra={"tenant_id": str(tenant_id), "licence": row.licence_id,
                                                         "by": who.username})
    raise web.HTTPSeeOther("/portal/platform/licences")


async def issue(request: web.Request) -> web.Response:
    """A new licence with the terms in the form, valid from now."""
    who = await operator(request)
    form = await request.post()
    check_csrf(request, form)
    try:
        body = LicenceIssueIn(max_cameras=form.get("max_cameras", ""), analytics=form.getall("analytics", []),
                              valid_days=form.get("valid_days", "") or 365, grace_days=form.get("grace_days", "") or 14)
    except ValidationError as exc:
        return await licences_page(request, f"The licence is not valid: {problems(exc)}", 400)
    return await _sign(request, who, _tenant_id(request), body, None)


async def renew(request: web.Request) -> web.Response:
    """The tenant's newest licence again (cameras, analytics, grace, servers) for `valid_days` more, counted
    from its end when it has not ended yet (renewing early loses no day)."""
    who = await operator(request)
    form = await request.post()
    check_csrf(request, form)
    tenant_id = _tenant_id(request)
    async with scoped(request.app[keys.SESSIONS], tenant_id, platform=True) as session:
        items = await hq.licence_list(session)
    if not items:
        return await licences_page(request, "This tenant has no licence to renew; issue one.", 409)
    terms = items[0].terms
    try:
        body = LicenceIssueIn(max_cameras=terms["max_cameras"], analytics=terms.get("analytics") or [],
                              valid_days=form.get("valid_days", "") or 365, grace_days=terms.get("grace_days", 14),
                              server_ids=terms.get("server_ids") or [])
    except ValidationError as exc:
        return await licences_page(request, f"The renewal is not valid: {problems(exc)}", 400)
    until, _ = licence_state(items[0], dt.datetime.now(dt.UTC))
    return await _sign(request, who, tenant_id, body, until)


def install(app: web.Application) -> None:
    app.router.add_get("/portal/platform/licences", licences_page)
    app.router.add_post("/portal/platform/licences/{tenant_id}/issue", issue)
    app.router.add_post("/portal/platform/licences/{tenant_id}/renew", renew)
