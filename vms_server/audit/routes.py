"""HTTP routes of the audit log: who did what, when, to what, filtered a page at a time, and the chain check.

The log spans every site of the server (configuration, users, licences, cameras), so only an Administrator
without a site restriction reads it: a site-restricted user would learn other sites' ids and changes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.principal import Principal
from vms_common.auth.roles import Role
from vms_common.errors import Forbidden
from vms_server import keys
from vms_server.audit.models import AuditEntry
from vms_server.audit.service import verify_chain

router = ApiRouter()
TAGS = ["audit"]


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str | None = Field(None, min_length=1, max_length=100, description="Exact user name")
    actor_id: uuid.UUID | None = None
    action: str | None = Field(None, min_length=1, max_length=100,
                               description="Action, or a prefix ending in '.' ('camera.' for every camera action)")
    target_type: str | None = Field(None, min_length=1, max_length=50)
    target_id: str | None = Field(None, min_length=1, max_length=100)
    since: AwareDatetime | None = Field(None, description="ISO 8601 with a time zone")
    until: AwareDatetime | None = Field(None, description="ISO 8601 with a time zone; entries before it (an "
                                        "`until` at or before `since` matches nothing)")
    before_id: int | None = Field(None, ge=1, le=2**62, description="Next page: `next_before_id` of the last one")
    limit: int = Field(100, ge=1, le=1000)


class AuditOut(BaseModel):
    id: int
    at: dt.datetime
    actor_id: uuid.UUID | None
    actor: str
    action: str
    target_type: str | None
    target_id: str | None
    old_value: Any
    new_value: Any
    client_ip: str | None
    hash: str


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_before_id: int | None = Field(description="Pass as `before_id` for older entries; null on the last page")


class ChainOut(BaseModel):
    intact: bool
    rows: int = Field(description="Entries verified (up to the first broken one)")
    first_broken_id: int | None
    reason: str | None


def _require_whole_server(who: Principal) -> None:
    if who.site_ids is not None:
        raise Forbidden("the audit log spans every site; it is open to administrators of the whole server")


@router.route("GET", "/audit", role=Role.ADMIN, query=AuditQuery, response=AuditPage, tags=TAGS, errors=(422,))
async def list_audit(call: Call[NoBody]) -> AuditPage:
    """Audit entries, newest first, filtered by who, what and when."""
    _require_whole_server(call.user)
    q = call.query(AuditQuery)
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(q.limit + 1)
    if q.actor is not None:
        stmt = stmt.where(AuditEntry.actor == q.actor)
    if q.actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == q.actor_id)
    if q.action is not None:
        stmt = stmt.where(AuditEntry.action.startswith(q.action, autoescape=True) if q.action.endswith(".")
                          else AuditEntry.action == q.action)
    if q.target_type is not None:
        stmt = stmt.where(AuditEntry.target_type == q.target_type)
    if q.target_id is not None:
        stmt = stmt.where(AuditEntry.target_id == q.target_id)
    if q.since is not None:
        stmt = stmt.where(AuditEntry.at >= q.since)
    if q.until is not None:
        stmt = stmt.where(AuditEntry.at < q.until)
    if q.before_id is not None:
        stmt = stmt.where(AuditEntry.id < q.before_id)
    async with call.app[keys.SESSIONS]() as session:
        rows = list((await session.scalars(stmt)).all())
    more = len(rows) > q.limit
    rows = rows[:q.limit]
    return AuditPage(items=[AuditOut.model_validate(r, from_attributes=True) for r in rows],
                     next_before_id=rows[-1].id if more else None)


@router.route("GET", "/audit/verify", role=Role.ADMIN, response=ChainOut, tags=TAGS)
async def verify_audit(call: Call[NoBody]) -> ChainOut:
    """Walk the hash chain: any entry removed, reordered or edited since it was written is reported."""
    _require_whole_server(call.user)
    async with call.app[keys.SESSIONS]() as session:
        report = await verify_chain(session)
    return ChainOut(intact=report.first_broken_id is None, rows=report.rows, first_broken_id=report.first_broken_id,
                    reason=report.reason)
