"""TOTP MFA for platform operators: the HQ users' flow (`mfa`) on the `operators` table.

An operator signs every tenant's licences, so a leaked password alone must not be enough. As for HQ users the
key is enforced once confirmed (no platform-wide switch: there is no one above the operator to set it up for
them), each code works once, wrong codes count towards the login rate limit (`routes_hq.login_with`), and site
IT can clear a lost key with `vms-cloud operator mfa-reset`. Enrolment and resets are written to the log as an
audit line; keys never are."""

from __future__ import annotations

import logging
import uuid

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_cloud_sync.backend import keys, mfa
from vms_cloud_sync.backend.auth import CloudPrincipal
from vms_cloud_sync.backend.db import scoped
from vms_cloud_sync.backend.models import Operator
from vms_cloud_sync.backend.schemas import LoginOut, MfaSetupOut
from vms_common.errors import NotFound

logger = logging.getLogger(__name__)


async def _operator(session: AsyncSession, operator_id: uuid.UUID) -> Operator:
    op = await session.get(Operator, operator_id)
    if op is None:
        raise NotFound("no such operator")
    return op


async def setup(app: web.Application, who: CloudPrincipal) -> MfaSetupOut:
    """A new pending key for the logged-in operator (an enrolled one keeps its key until the new one is
    confirmed, so a stolen session cannot lock the operator out by starting setup)."""
    async with scoped(app[keys.SESSIONS], None, platform=True) as session:
        out = mfa.start_for(await _operator(session, who.user_id), app[keys.MFA_BOX], who.username)
    logger.info("operator MFA setup started", extra={"operator": who.username, "audit": "operator_mfa_setup"})
    return out


async def confirm(app: web.Application, who: CloudPrincipal, code: str) -> LoginOut:
    """Enforce the pending key once a code from it matches; answers a fresh operator token."""
    async with scoped(app[keys.SESSIONS], None, platform=True) as session:
        mfa.confirm_for(await _operator(session, who.user_id), app[keys.MFA_BOX], code)
    logger.info("operator MFA enrolled", extra={"operator": who.username, "audit": "operator_mfa_enrolled"})
    return LoginOut(access_token=app[keys.SIGNER].issue(who.user_id, None, "operator"), tenant_id=None,
                    role="operator")


async def reset(session: AsyncSession, username: str) -> bool:
    """Clear the operator's key (site IT, from the CLI). False when there is no such operator."""
    op = await session.scalar(select(Operator).where(Operator.username == username))
    if op is None:
        return False
    mfa.reset(op)
    logger.info("operator MFA reset", extra={"operator": username, "audit": "operator_mfa_reset"})
    return True
