"""Portal forms that change something: HQ actions on events and incidents (analysts and admins), the user's
own MFA setup, and the tenant admin's page (MFA policy, users, enrolment tokens, revoking an edge). Every form
carries the login's CSRF token; every change is written where the API writes it (the same services)."""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select

from vms_cloud_sync.backend import actions, hq, keys, mfa, tenancy
from vms_cloud_sync.backend.auth import COOKIE, CloudPrincipal
from vms_cloud_sync.backend.db import scoped
from vms_cloud_sync.backend.models import HqUser
from vms_cloud_sync.backend.schemas import UserIn
from vms_cloud_sync.portal.web import can_act, check_csrf, page, problems, set_login_cookie, tenant, user
from vms_cloud_sync.protocol.sync import HqActionKind
from vms_common.auth.roles import Role
from vms_common.errors import NotFound, VmsError

PORTAL_ACTIONS: dict[str, HqActionKind] = {a: a for a in ("acknowledge", "resolve", "false_positive", "note", "tag")}


async def _form(request: web.Request) -> dict[str, str]:
    form = await request.post()
    check_csrf(request, form)
    return {k: str(v) for k, v in form.items()}


def _path_uuid(request: web.Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound(text="There is no such item.") from None


async def _actor(request: web.Request) -> CloudPrincipal:
    who = await user(request)
    if not can_act(who):
        raise web.HTTPForbidden(text="Viewers can look but not act; ask an analyst or a tenant admin.")
    return who


async def event_action(request: web.Request) -> web.Response:
    who = await _actor(request)
    event_id = _path_uuid(request, "event_id")
    form = await _form(request)
    action, text = form.get("action", ""), form.get("text", "").strip()
    if action not in PORTAL_ACTIONS:
        raise web.HTTPBadRequest(text="unknown action")
    if action in ("note", "tag") and not text:
        raise web.HTTPBadRequest(text=f"a {action} needs its text")
    if len(text) > (50 if action == "tag" else 2000):
        raise web.HTTPBadRequest(text="the text is too long (a tag: 50 characters, a note: 2000)")
    async with scoped(request.app[keys.SESSIONS], tenant(who)) as session:
        try:
            await actions.on_event(session, tenant(who), event_id, PORTAL_ACTIONS[action], text, who.username)
        except NotFound:
            raise web.HTTPNotFound(text="There is no such event.") from None
    raise web.HTTPSeeOther(f"/portal/events/{event_id}")


async def incident_action(request: web.Request) -> web.Response:
    who = await _actor(request)
    incident_id = _path_uuid(request, "incident_id")
    form = await _form(request)
    async with scoped(request.app[keys.SESSIONS], tenant(who)) as session:
        try:
            await actions.acknowledge_incident(session, tenant(who), incident_id, form.get("text", "")[:2000],
                                               who.username)
        except NotFound:
            raise web.HTTPNotFound(text="There is no such incident.") from None
    raise web.HTTPSeeOther("/portal/incidents")


async def mfa_page(request: web.Request) -> web.Response:
    who = await user(request, mfa_setup=True)
    async with scoped(request.app[keys.SESSIONS], tenant(who)) as session:
        row = await session.scalar(select(HqUser).where(HqUser.id == who.user_id))
        required = await mfa.required(session)
    return page(request, "mfa.html", who, enabled=row is not None and row.totp_secret is not None,
                required=required, setup=None, error=None)


async def mfa_start(request: web.Request) -> web.Response:
    who = await user(request, mfa_setup=True)
    await _form(request)
    async with scoped(request.app[keys.SESSIONS], tenant(who)) as session:
        setup = await mfa.start(session, request.app[keys.MFA_BOX], who.user_id, who.username)
    return page(request, "mfa.html", who, enabled=False, required=False, setup=setup, error=None)


async def mfa_confirm(request: web.Request) -> web.Response:
    """A right code switches MFA on and replaces the login (a setup-only token becomes a full one)."""
    who = await user(request, mfa_setup=True)
    form = await _form(request)
    try:
        async with scoped(request.app[keys.SESSIONS], tenant(who)) as session:
            role = await mfa.confirm(session, request.app[keys.MFA_BOX], who.user_id, form.get("code", "").strip())
    except VmsError as exc:
        return page(request, "mfa.html", who, 401, enabled=False, required=False, setup=None, error=exc.message)
    old = request.cookies.get(COOKIE)
    if old:
        await request.app[keys.AUTHENTICATOR].revoke(old)
    redirect = web.HTTPSeeOther("/portal/overview")
    set_login_cookie(redirect, request, request.app[keys.SIGNER].issue(who.user_id, tenant(who), role))
    raise redirect


async def _admin(request: web.Request) -> CloudPrincipal:
    who = await user(request)
    if who.role is not Role.ADMIN:
        raise web.HTTPForbidden(text="This page is for tenant admins.")
    return who


async def admin_page(request: web.Request, *, notice: str | None = None, error: str | None = None,
                     token: str | None = None, status: int = 200) -> web.Response:
    who = await _admin(request)
    async with scoped(request.app[keys.SESSIONS], tenant(who)) as session:
        users = (await session.scalars(select(HqUser).order_by(HqUser.username))).all()
        edges = await hq.edges(session)
        required = await mfa.required(session)
    return page(request, "admin.html", who, status, users=users, edges=edges, required=required, notice=notice,
                error=error, token=token)


async def admin_view(request: web.Request) -> web.Response:
    return await admin_page(request)


async def admin_post(request: web.Request) -> web.Response:
    """One form handler for the admin page's forms (`op` names which)."""
    who = await _admin(request)
    form = await _form(request)
    op, tid = form.get("op", ""), tenant(who)
    notice, token = "", None
    try:
        async with scoped(request.app[keys.SESSIONS], tid) as session:
            if op == "mfa":
                await mfa.set_required(session, tid, form.get("mfa_required") == "on")
                notice = "Login policy saved."
            elif op == "user":
                body = UserIn(username=form.get("username", ""), password=form.get("password", ""),
                              role=form.get("role", "viewer"))
                await tenancy.create_user(session, request.app[keys.PASSWORDS], tid, body.username, body.password,
                                          body.role)
                notice = f"User {body.username} added."
            elif op == "token":
                hours = request.app[keys.SETTINGS].server.enrolment_token_hours
                token, _ = await tenancy.new_enrolment_token(session, tid, hours, who.username)
                notice = "Give this one-time token to the site's IT:"
            elif op == "revoke":
                edge = await tenancy.revoke(session, uuid.UUID(form.get("edge_id", "")))
                notice = f"Edge {edge.name} revoked."
            else:
                raise web.HTTPBadRequest(text="unknown form")
    except ValidationError as exc:
        return await admin_page(request, error=problems(exc), status=400)
    except VmsError as exc:
        return await admin_page(request, error=exc.message, status=400)
    except ValueError:
        return await admin_page(request, error="not a valid edge", status=400)
    return await admin_page(request, notice=notice, token=token)


def install(app: web.Application) -> None:
    app.router.add_post("/portal/events/{event_id}/actions", event_action)
    app.router.add_post("/portal/incidents/{incident_id}/actions", incident_action)
    app.router.add_get("/portal/mfa", mfa_page)
    app.router.add_post("/portal/mfa", mfa_start)
    app.router.add_post("/portal/mfa/confirm", mfa_confirm)
    app.router.add_get("/portal/admin", admin_view)
    app.router.add_post("/portal/admin", admin_post)
