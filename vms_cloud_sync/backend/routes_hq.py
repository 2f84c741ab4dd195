"""The HQ API: log in, tenants and users (platform operators), enrolment tokens, edges, sites, events
and their clips, licences. Tenant users see only their tenant (RLS and the application both enforce it)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import select

from vms_cloud_sync.backend import hq, keys, licences, mfa, overview, tenancy
from vms_cloud_sync.backend.auth import COOKIE, MFA_SETUP, require_platform, require_tenant_user
from vms_cloud_sync.backend.clips import MEDIA_TYPES
from vms_cloud_sync.backend.common import authenticate
from vms_cloud_sync.backend.db import scoped
from vms_cloud_sync.backend.models import Clip, Tenant, TenantSettings
from vms_cloud_sync.backend.schemas import (
    CloudEventOut,
    CloudEventPage,
    EdgeList,
    EdgeOut,
    EnrolmentTokenOut,
    EventFilter,
    IncidentFilter,
    IncidentList,
    LicenceIssueIn,
    LicenceList,
    LicenceOutHq,
    LoginIn,
    LoginOut,
    SiteList,
    TenantIn,
    TenantList,
    TenantOut,
    TenantSettingsIn,
    UserIn,
    UserOut,
)
from vms_cloud_sync.backend.storage import ClipRef
from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.principal import bearer_token
from vms_common.auth.roles import Role
from vms_common.errors import NotFound, Unauthenticated

router = ApiRouter(authenticator=authenticate)


async def login_with(app: web.Application, body: LoginIn, ip: str) -> LoginOut:
    """Check a password login (operators leave `organisation` empty) and issue a token.

    Failures count per username (within the organisation) and per address; over the limit the answer is 429
    before any password is checked. Raises Unauthenticated or RateLimited.
    """
    limiter = app[keys.LOGIN_LIMITER]
    name = f"{body.organisation}/{body.username}"
    limiter.check(name, ip)
    try:
        out = await _check_login(app, body)
    except Unauthenticated:
        limiter.failed(name, ip)
        raise
    limiter.succeeded(name)
    return out


async def _check_login(app: web.Application, body: LoginIn) -> LoginOut:
    passwords, signer = app[keys.PASSWORDS], app[keys.SIGNER]
    if not body.organisation:
        async with scoped(app[keys.SESSIONS], None, platform=True) as session:
            op = await tenancy.check_operator(session, passwords, body.username, body.password)
            mfa.check_login_code(op, body.code, app[keys.MFA_BOX])  # enforced once enrolled, as for users
        return LoginOut(access_token=signer.issue(op.id, None, "operator"), tenant_id=None, role="operator")
    async with scoped(app[keys.SESSIONS], None) as session:
        tenant_id = await tenancy.tenant_by_slug(session, body.organisation)
    if tenant_id is None:
        await asyncio.to_thread(passwords.verify, None, body.password)  # same time as a wrong password
        raise Unauthenticated(tenancy.BAD_LOGIN)
    async with scoped(app[keys.SESSIONS], tenant_id) as session:
        user = await tenancy.check_user(session, passwords, body.username, body.password)
        mfa.check_login_code(user, body.code, app[keys.MFA_BOX])
        role = MFA_SETUP if user.totp_secret is None and await mfa.required(session) else user.role
    return LoginOut(access_token=signer.issue(user.id, tenant_id, role), tenant_id=tenant_id, role=role)


@router.route("POST", "/auth/login", role=None, body=LoginIn, response=LoginOut, tags=["auth"],
              errors=(401, 429))
async def login(call: Call[LoginIn]) -> LoginOut:
    """Log in with organisation, username and password; send the token as `Authorization: Bearer`."""
    try:
        out = await login_with(call.app, call.body, call.request.remote or "unknown")
    except Unauthenticated:
        call.app[keys.METRICS].logins.labels("refused").inc()
        raise
    call.app[keys.METRICS].logins.labels("ok").inc()
    return out


@router.route("POST", "/auth/logout", role=Role.VIEWER, status=204, tags=["auth"])
async def logout(call: Call[NoBody]) -> None:
    """End this login now: the token stops working at once instead of at its expiry."""
    token = bearer_token(call.request) or call.request.cookies.get(COOKIE)
    if token:
        await call.app[keys.AUTHENTICATOR].revoke(token)


@router.route("POST", "/tenants", role=Role.ADMIN, body=TenantIn, response=TenantOut, status=201,
              tags=["platform"], errors=(409,))
async def create_tenant(call: Call[TenantIn]) -> TenantOut:
    """Create a tenant (platform operators only)."""
    require_platform(call.user)
    async with scoped(call.app[keys.SESSIONS], None, platform=True) as session:
        t = await tenancy.create_tenant(session, call.body.slug, call.body.name)
        return TenantOut(id=t.id, slug=t.slug, name=t.name, created_at=t.created_at)


@router.route("GET", "/tenants", role=Role.ADMIN, response=TenantList, tags=["platform"])
async def list_tenants(call: Call[NoBody]) -> TenantList:
    """Every tenant (platform operators only)."""
    require_platform(call.user)
    async with scoped(call.app[keys.SESSIONS], None, platform=True) as session:
        rows = (await session.scalars(select(Tenant).order_by(Tenant.slug))).all()
    return TenantList(items=[TenantOut(id=t.id, slug=t.slug, name=t.name, created_at=t.created_at) for t in rows])


@router.route("POST", "/tenants/{tenant_id}/users", role=Role.ADMIN, body=UserIn, response=UserOut, status=201,
              tags=["users"], errors=(404, 409))
async def create_user(call: Call[UserIn]) -> UserOut:
    """Add an HQ user: platform operators for any tenant, tenant admins for their own."""
    tenant_id = call.path_uuid("tenant_id")
    who = call.user
    if not getattr(who, "platform", False):
        _, own = require_tenant_user(who)
        if own != tenant_id:
            raise NotFound("no such tenant")
    async with scoped(call.app[keys.SESSIONS], tenant_id, platform=getattr(who, "platform", False)) as session:
        if await session.get(Tenant, tenant_id) is None:
            raise NotFound("no such tenant")
        u = await tenancy.create_user(session, call.app[keys.PASSWORDS], tenant_id, call.body.username,
                                      call.body.password, call.body.role)
        return UserOut(id=u.id, tenant_id=u.tenant_id, username=u.username, role=call.body.role, disabled=False)


@router.route("POST", "/enrolment-tokens", role=Role.ADMIN, response=EnrolmentTokenOut, status=201, tags=["edges"])
async def create_enrolment_token(call: Call[NoBody]) -> EnrolmentTokenOut:
    """A one-time token an edge server redeems to enrol (tenant admins)."""
    who, tenant_id = require_tenant_user(call.user)
    hours = call.app[keys.SETTINGS].server.enrolment_token_hours
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        token, expires = await tenancy.new_enrolment_token(session, tenant_id, hours, who.username)
    return EnrolmentTokenOut(token=token, expires_at=expires)


@router.route("GET", "/edges", role=Role.VIEWER, response=EdgeList, tags=["edges"])
async def list_edges(call: Call[NoBody]) -> EdgeList:
    """The tenant's edge servers with their last heartbeat and health."""
    _, tenant_id = require_tenant_user(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        return EdgeList(items=await hq.edges(session))


@router.route("POST", "/edges/{edge_id}/revoke", role=Role.ADMIN, response=EdgeOut, tags=["edges"], errors=(404,))
async def revoke_edge(call: Call[NoBody]) -> EdgeOut:
    """Revoke an edge's credential at once (tenant admins)."""
    _, tenant_id = require_tenant_user(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        e = await tenancy.revoke(session, call.path_uuid("edge_id"))
        return EdgeOut(id=e.id, name=e.name, version=e.version, created_at=e.created_at, revoked_at=e.revoked_at,
                       last_heartbeat_at=e.last_heartbeat_at, health=e.health or {})


@router.route("GET", "/sites", role=Role.VIEWER, response=SiteList, tags=["sites"])
async def list_sites(call: Call[NoBody]) -> SiteList:
    """Sites the tenant's edges reported."""
    _, tenant_id = require_tenant_user(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        return SiteList(items=await hq.sites(session))


@router.route("GET", "/events", role=Role.VIEWER, query=EventFilter, response=CloudEventPage, tags=["events"],
              errors=(422,))
async def list_events(call: Call[NoBody]) -> CloudEventPage:
    """Events across all the tenant's sites, newest first, with filters and cursor paging."""
    _, tenant_id = require_tenant_user(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        rows, cursor = await hq.list_events(session, call.query(EventFilter))
        return CloudEventPage(items=[hq.event_out(r) for r in rows], next_cursor=cursor)


@router.route("GET", "/events/{event_id}", role=Role.VIEWER, response=CloudEventOut, tags=["events"], errors=(404,))
async def get_event(call: Call[NoBody]) -> CloudEventOut:
    """One event of the tenant."""
    _, tenant_id = require_tenant_user(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        return hq.event_out(await hq.get_event(session, call.path_uuid("event_id")))


@router.route("GET", "/events/{event_id}/clip", role=Role.VIEWER, media_type="video/mp4", query_token=True,
              tags=["events"], errors=(404,))
async def event_clip(call: Call[NoBody]) -> web.StreamResponse:
    """The event's clip (byte ranges supported, so browsers can seek)."""
    _, tenant_id = require_tenant_user(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        ev = await hq.get_event(session, call.path_uuid("event_id"))
        clip = await session.get(Clip, ev.clip_id) if ev.clip_id else None
    if clip is None or not clip.complete:
        raise NotFound("this event has no clip (yet)")
    return await serve_clip(call.request, clip)


@router.route("GET", "/events/{event_id}/snapshot", role=Role.VIEWER, media_type="image/jpeg", query_token=True,
              tags=["events"], errors=(404,))
async def event_snapshot(call: Call[NoBody]) -> web.StreamResponse:
    """The frame the event was raised on, as the edge sent it."""
    _, tenant_id = require_tenant_user(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        ev = await hq.get_event(session, call.path_uuid("event_id"))
        ident = hq.snapshot_id(ev)
        clip = await session.get(Clip, ident) if ident else None
    if clip is None or not clip.complete or clip.content_type != "image/jpeg":
        raise NotFound("this event has no snapshot (yet)")
    return await serve_clip(call.request, clip)


def _clip_headers(clip: Clip) -> dict[str, str]:
    """A clip is served as the video or image it must be: a type outside the allowed ones (a row stored before
    they were enforced) goes out as a download that no browser renders."""
    ext = MEDIA_TYPES.get(clip.content_type)
    if ext is None:
        return {"Content-Type": "application/octet-stream",
                "Content-Disposition": f'attachment; filename="clip-{clip.id}.bin"'}
    return {"Content-Type": clip.content_type, "Content-Disposition": f'inline; filename="clip-{clip.id}{ext}"'}


async def serve_clip(request: web.Request, clip: Clip) -> web.StreamResponse:
    store = request.app[keys.STORE]
    ref = ClipRef(clip.tenant_id, clip.id)
    path = await store.local_path(ref)
    if path is not None:
        return web.FileResponse(path, headers=_clip_headers(clip))
    start, end = 0, clip.size
    rng = request.http_range
    if rng.start is not None or rng.stop is not None:
        start = max(rng.start or 0, 0)
        end = min(rng.stop if rng.stop is not None else clip.size, clip.size)
    data = await store.read(ref, start, end)
    status = 206 if (start, end) != (0, clip.size) else 200
    headers = {**_clip_headers(clip), "Accept-Ranges": "bytes"}
    if status == 206:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{clip.size}"
    return web.Response(body=data, status=status, headers=headers)


@router.route("GET", "/incidents", role=Role.VIEWER, query=IncidentFilter, response=IncidentList,
              tags=["incidents"], errors=(422,))
async def list_incidents(call: Call[NoBody]) -> IncidentList:
    """The sites' watchdog incidents, each as its latest update left it, with its timeline; open ones first."""
    _, tenant_id = require_tenant_user(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        return IncidentList(items=await overview.incidents(session, call.query(IncidentFilter)))


@router.route("GET", "/licences", role=Role.VIEWER, response=LicenceList, tags=["licences"])
async def list_licences(call: Call[NoBody]) -> LicenceList:
    """The tenant's licences, newest first."""
    _, tenant_id = require_tenant_user(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        return LicenceList(items=await hq.licence_list(session))


@router.route("POST", "/tenants/{tenant_id}/licences", role=Role.ADMIN, body=LicenceIssueIn, response=LicenceOutHq,
              status=201, tags=["platform"], errors=(404, 503))
async def issue_licence(call: Call[LicenceIssueIn]) -> LicenceOutHq:
    """Sign a licence for a tenant (platform operators); its edges pull it at their next poll."""
    who = require_platform(call.user)
    key = licences.load_signing_key(call.app[keys.SETTINGS].data_dir)
    b = call.body
    async with scoped(call.app[keys.SESSIONS], call.path_uuid("tenant_id"), platform=True) as session:
        row = await licences.issue(session, key, call.path_uuid("tenant_id"), b.max_cameras, b.analytics,
                                   b.valid_days, b.grace_days, who.username, b.server_ids)
        return hq.licence_out(row)


@router.route("PUT", "/settings", role=Role.ADMIN, body=TenantSettingsIn, response=TenantSettingsIn,
              tags=["edges"])
async def put_settings(call: Call[TenantSettingsIn]) -> TenantSettingsIn:
    """Cloud-side settings every edge of the tenant pulls (tenant admins)."""
    _, tenant_id = require_tenant_user(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        row = await session.get(TenantSettings, tenant_id)
        if row is None:
            session.add(TenantSettings(tenant_id=tenant_id, settings=call.body.settings, version=1))
        else:
            row.settings = call.body.settings
            row.version += 1
    return call.body
