"""HQ acting on sites (events, incidents) and the edge's side of that way down; TOTP MFA for HQ users (and platform
operators, `operator_mfa`) and the tenant's policy that requires it."""

from __future__ import annotations

from typing import Any

from vms_cloud_sync.backend import actions, keys, mfa, operator_mfa
from vms_cloud_sync.backend.auth import cloud_principal, require_edge, require_tenant_user
from vms_cloud_sync.backend.common import authenticate
from vms_cloud_sync.backend.db import scoped
from vms_cloud_sync.backend.schemas import (
    ActionQuery,
    HqActionList,
    HqActionOut,
    IncidentAckIn,
    LoginOut,
    MfaConfirmIn,
    MfaSetupOut,
    NoteIn,
    SecurityPolicy,
    TagIn,
    VerdictIn,
)
from vms_cloud_sync.protocol.sync import ActionsDone, ActionsDoneOut, EdgeActionList, HqActionKind
from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role

router = ApiRouter(authenticator=authenticate)


async def _on_event(call: Call[Any], action: HqActionKind, text: str) -> HqActionOut:
    who, tenant_id = require_tenant_user(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        row = await actions.on_event(session, tenant_id, call.path_uuid("event_id"), action, text, who.username)
        return actions.action_out(row)


@router.route("POST", "/events/{event_id}/actions", role=Role.SUPERVISOR, body=VerdictIn, response=HqActionOut,
              status=201, tags=["events"], errors=(404,))
async def act_on_event(call: Call[VerdictIn]) -> HqActionOut:
    """Acknowledge, resolve or mark an event false positive (analysts and admins). The site's server applies it
    at its next poll; the event's new status then comes back up like any change made at the site."""
    return await _on_event(call, call.body.action, call.body.text)


@router.route("POST", "/events/{event_id}/notes", role=Role.SUPERVISOR, body=NoteIn, response=HqActionOut,
              status=201, tags=["events"], errors=(404,))
async def note_event(call: Call[NoteIn]) -> HqActionOut:
    """Add a note to an event at its site (analysts and admins)."""
    return await _on_event(call, "note", call.body.text)


@router.route("POST", "/events/{event_id}/tags", role=Role.SUPERVISOR, body=TagIn, response=HqActionOut,
              status=201, tags=["events"], errors=(404,))
async def tag_event(call: Call[TagIn]) -> HqActionOut:
    """Tag an event at its site (analysts and admins)."""
    return await _on_event(call, "tag", call.body.tag)


@router.route("GET", "/events/{event_id}/actions", role=Role.VIEWER, response=HqActionList, tags=["events"])
async def event_actions(call: Call[NoBody]) -> HqActionList:
    """HQ's actions on the event, each with whether its site has applied it yet."""
    _, tenant_id = require_tenant_user(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        return HqActionList(items=await actions.for_target(session, str(call.path_uuid("event_id"))))


@router.route("POST", "/incidents/{incident_id}/acknowledge", role=Role.SUPERVISOR, body=IncidentAckIn,
              response=HqActionOut, status=201, tags=["incidents"], errors=(404,))
async def acknowledge_incident(call: Call[IncidentAckIn]) -> HqActionOut:
    """Acknowledge an incident at its site (analysts and admins)."""
    who, tenant_id = require_tenant_user(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        row = await actions.acknowledge_incident(session, tenant_id, call.path_uuid("incident_id"), call.body.text,
                                                 who.username)
        return actions.action_out(row)


@router.route("GET", "/edge/actions", role=Role.VIEWER, query=ActionQuery, response=EdgeActionList, tags=["edge"])
async def edge_actions(call: Call[NoBody]) -> EdgeActionList:
    """HQ actions on this edge's events and incidents that it has not confirmed, oldest first."""
    tenant_id, edge_id = require_edge(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        return EdgeActionList(items=await actions.pending_for_edge(session, edge_id, call.query(ActionQuery).limit))


@router.route("POST", "/edge/actions/done", role=Role.VIEWER, body=ActionsDone, response=ActionsDoneOut,
              tags=["edge"])
async def edge_actions_done(call: Call[ActionsDone]) -> ActionsDoneOut:
    """The edge applied these actions (or says why not); they are not offered again. Repeats are harmless."""
    tenant_id, edge_id = require_edge(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        return ActionsDoneOut(confirmed=await actions.done(session, edge_id, call.body.items))


@router.route("POST", "/auth/mfa/setup", role=Role.VIEWER, response=MfaSetupOut, tags=["auth"])
async def mfa_setup(call: Call[NoBody]) -> MfaSetupOut:
    """Start (or restart) TOTP setup: a new key for the authenticator app; it counts once confirmed."""
    if cloud_principal(call.user).platform:
        return await operator_mfa.setup(call.app, cloud_principal(call.user))
    who, tenant_id = require_tenant_user(call.user, mfa_setup=True)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        return await mfa.start(session, call.app[keys.MFA_BOX], who.user_id, who.username)


@router.route("POST", "/auth/mfa/confirm", role=Role.VIEWER, body=MfaConfirmIn, response=LoginOut, tags=["auth"],
              errors=(401,))
async def mfa_confirm(call: Call[MfaConfirmIn]) -> LoginOut:
    """Confirm setup with a code from the app: from now on every login needs one. Answers a full token."""
    if cloud_principal(call.user).platform:
        return await operator_mfa.confirm(call.app, cloud_principal(call.user), call.body.code)
    who, tenant_id = require_tenant_user(call.user, mfa_setup=True)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        role = await mfa.confirm(session, call.app[keys.MFA_BOX], who.user_id, call.body.code)
    return LoginOut(access_token=call.app[keys.SIGNER].issue(who.user_id, tenant_id, role), tenant_id=tenant_id,
                    role=role)


@router.route("GET", "/security", role=Role.VIEWER, response=SecurityPolicy, tags=["users"])
async def get_security(call: Call[NoBody]) -> SecurityPolicy:
    """The tenant's login policy."""
    _, tenant_id = require_tenant_user(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        return SecurityPolicy(mfa_required=await mfa.required(session))


@router.route("PUT", "/security", role=Role.ADMIN, body=SecurityPolicy, response=SecurityPolicy, tags=["users"])
async def put_security(call: Call[SecurityPolicy]) -> SecurityPolicy:
    """Require MFA of every portal user (tenant admins): users without it must set it up at their next login."""
    _, tenant_id = require_tenant_user(call.user)
    async with scoped(call.app[keys.SESSIONS], tenant_id) as session:
        await mfa.set_required(session, tenant_id, call.body.mfa_required)
    return call.body
