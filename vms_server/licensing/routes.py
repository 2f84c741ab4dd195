"""HTTP routes for the licence."""

from __future__ import annotations

from pydantic import BaseModel

from vms_cloud_sync.protocol.licence import SignedLicence
from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.api.context import actor_of
from vms_server.licensing import service
from vms_server.licensing.keys import LICENCE_POLICY
from vms_server.licensing.service import LicenceStatus

router = ApiRouter()


@router.route("GET", "/licence", role=Role.VIEWER, response=LicenceStatus, tags=["licence"])
async def show(call: Call[NoBody]) -> LicenceStatus:
    """The licence in force, its state and how many cameras it allows."""
    async with call.app[keys.SESSIONS]() as session:
        return await service.status(session, call.app[LICENCE_POLICY])


@router.route("POST", "/licence", role=Role.ADMIN, every_site=True,
              body=SignedLicence, response=LicenceStatus, status=201,
              tags=["licence"], errors=(403, 409, 422))
async def import_(call: Call[SignedLicence]) -> BaseModel:
    """Import a signed licence document (as issued by the cloud)."""
    async with call.app[keys.SESSIONS].begin() as session:
        return await service.import_licence(
            session, call.app[LICENCE_POLICY], call.user.customer_id,
            call.body.model_dump_json(), actor_of(call),
        )
