"""The licence in force and the limits it grants.

Expiry degrades gracefully: during the grace period everything works and the state says `grace`; after it,
recording continues (footage is never dropped for a paperwork reason) but new cameras and analytics stop.

A licence binds: to its customer (once a licence of one customer is imported, another customer's is refused) and,
when it names servers, to those servers (the id comes from the installation key, so a copied database, or a
licence file passed around, licenses nothing elsewhere; a restore with the backup's key keeps it).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_cloud_sync.protocol.licence import Analytics, LicenceInvalid, LicenceTerms, parse, verify
from vms_common.db.base import utcnow
from vms_common.errors import Conflict, Forbidden, VmsError
from vms_server.audit.service import Actor, record
from vms_server.cameras.models import Camera
from vms_server.db.locks import serialise
from vms_server.licensing.models import LicenceRecord
from vms_server.security.keystore import derive_key
from vms_server.settings import LicensingSection


@dataclass(frozen=True)
class LicencePolicy:
    """What a licence is checked against: the trusted keys and evaluation terms, and this server's id."""

    section: LicensingSection
    server_id: str


def server_id_of(master: bytes) -> str:
    """This installation's id, derived from its master key (a one-way derivation that reveals nothing of it)."""
    return "srv-" + derive_key(master, "vms/server-id/v1")[:10].hex()


class LicenceError(VmsError):
    """The licence does not allow the action (too many cameras, an analytic not licensed)."""

    status = 403
    code = "licence"


class LicenceState(enum.StrEnum):
    UNLICENSED = "unlicensed"
    NOT_YET_VALID = "not_yet_valid"
    VALID = "valid"
    GRACE = "grace"
    EXPIRED = "expired"


class LicenceStatus(BaseModel):
    state: LicenceState
    message: str
    licence_id: str | None = None
    customer_name: str | None = None
    max_cameras: int = Field(description="Cameras allowed now (the evaluation allowance when unlicensed)")
    cameras_used: int = Field(description="Cameras counted against the limit (simulated demo cameras are not)")
    analytics: list[Analytics] = Field(default_factory=list)
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    grace_days: int | None = None
    server_id: str = Field(description="This server's id, for a licence that names its servers")


def state_of(terms: LicenceTerms, now: dt.datetime) -> LicenceState:
    if now < terms.valid_from:
        return LicenceState.NOT_YET_VALID
    if now <= terms.valid_until:
        return LicenceState.VALID
    if now <= terms.valid_until + dt.timedelta(days=terms.grace_days):
        return LicenceState.GRACE
    return LicenceState.EXPIRED


def _server_refusal(terms: LicenceTerms, server_id: str) -> str | None:
    if terms.server_ids and server_id not in terms.server_ids:
        return f"licence {terms.licence_id} is for server {', '.join(terms.server_ids)}, not this one ({server_id})"
    return None


async def _verified(session: AsyncSession, policy: LicencePolicy) -> list[LicenceTerms]:
    """Every stored licence that is signed by a trusted key, newest first. Re-verified on every read: a row edited
    in the database is ignored, not trusted."""
    rows = (await session.scalars(select(LicenceRecord).order_by(LicenceRecord.imported_at.desc()))).all()
    out = []
    for row in rows:
        try:
            out.append(verify(parse(row.document), policy.section.public_keys))
        except LicenceInvalid:
            continue
    return out


async def _latest_terms(session: AsyncSession, policy: LicencePolicy) -> LicenceTerms | None:
    """The newest licence for this server (one naming other servers came with a copied database)."""
    for terms in await _verified(session, policy):
        if _server_refusal(terms, policy.server_id) is None:
            return terms
    return None


async def status(session: AsyncSession, policy: LicencePolicy) -> LicenceStatus:
    used = int(await session.scalar(select(func.count()).select_from(Camera).where(Camera.simulated.is_(False)))
               or 0)
    terms = await _latest_terms(session, policy)
    if terms is None:
        return LicenceStatus(
            state=LicenceState.UNLICENSED,
            message=f"no licence imported: evaluation allows {policy.section.unlicensed_camera_limit} cameras",
            max_cameras=policy.section.unlicensed_camera_limit,
            cameras_used=used,
            server_id=policy.server_id,
        )
    state = state_of(terms, utcnow())
    usable = state in (LicenceState.VALID, LicenceState.GRACE)
    messages = {
        LicenceState.VALID: "licence valid",
        LicenceState.GRACE: "licence expired; grace period running, renew it",
        LicenceState.EXPIRED: "licence expired: recording continues, new cameras and analytics are refused",
        LicenceState.NOT_YET_VALID: "licence not valid yet",
    }
    return LicenceStatus(
        state=state,
        message=messages[state],
        licence_id=terms.licence_id,
        customer_name=terms.customer_name,
        max_cameras=terms.max_cameras if usable else 0,
        cameras_used=used,
        analytics=terms.analytics if usable else [],
        valid_from=terms.valid_from,
        valid_until=terms.valid_until,
        grace_days=terms.grace_days,
        server_id=policy.server_id,
    )


async def require_camera_slot(session: AsyncSession, policy: LicencePolicy, adding: int = 1) -> None:
    """Raise LicenceError when adding cameras would exceed what the licence allows.

    Takes a lock held until the caller's transaction ends, so that the count and the caller's insert are one
    step: concurrent adds otherwise all see the same count and together pass the limit.
    """
    await serialise(session, "licensing.camera_slots")
    current = await status(session, policy)
    if current.cameras_used + adding > current.max_cameras:
        raise LicenceError(
            f"licence allows {current.max_cameras} cameras and {current.cameras_used} are configured "
            f"({current.message})",
            code="licence_camera_limit",
        )


async def import_licence(
    session: AsyncSession, policy: LicencePolicy, customer_id: uuid.UUID, document: str, actor: Actor
) -> LicenceStatus:
    """Verify and store a signed licence. Raises Forbidden (403, with a code and the reason) when the licence does
    not bind this server: a well-formed document that is not signed by a trusted key, is for another server or
    customer, has expired or is never valid."""
    try:
        terms = verify(parse(document), policy.section.public_keys)
    except LicenceInvalid as exc:
        raise Forbidden(f"licence refused: {exc}", code="licence_invalid") from None
    wrong_server = _server_refusal(terms, policy.server_id)
    if wrong_server is not None:
        raise Forbidden(f"licence refused: {wrong_server}", code="licence_wrong_server")
    bound = next((t.customer_id for t in await _verified(session, policy) if t.customer_id is not None), None)
    if bound is not None and terms.customer_id is not None and terms.customer_id != bound:
        raise Forbidden(f"licence refused: it was issued to {terms.customer_name} (customer {terms.customer_id}), "
                           f"and this server is licensed to customer {bound}", code="licence_wrong_customer")
    state = state_of(terms, utcnow())
    if state == LicenceState.EXPIRED:
        raise Forbidden(f"licence refused: it expired on {terms.valid_until:%Y-%m-%d}", code="licence_expired")
    if await session.scalar(select(LicenceRecord.id).where(LicenceRecord.licence_id == terms.licence_id)):
        raise Conflict(f"licence {terms.licence_id} is already imported")
    session.add(LicenceRecord(customer_id=customer_id, licence_id=terms.licence_id, document=document))
    await session.flush()
    await record(session, actor, "licence.imported", target_type="licence", target_id=terms.licence_id,
                 new=terms.model_dump(mode="json"))
    return await status(session, policy)
