"""`/api/v1/network/ddns`: the updater's status and a forced update. Administrators only; the secret is never
part of either answer."""

from __future__ import annotations

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_common.errors import Conflict
from vms_server.ddns.keys import DDNS
from vms_server.ddns.updater import DdnsStatus

router = ApiRouter()
TAGS = ["network"]


@router.route("GET", "/network/ddns", role=Role.ADMIN, response=DdnsStatus, tags=TAGS)
async def ddns_status(call: Call[NoBody]) -> DdnsStatus:
    """Provider, host name, the address last published, the provider's last answer, and when the next try is."""
    return call.app[DDNS].status()


@router.route("POST", "/network/ddns/update", role=Role.ADMIN, response=DdnsStatus, tags=TAGS, errors=(409,))
async def force_update(call: Call[NoBody]) -> DdnsStatus:
    """Send an update now, even when the address is unchanged or after a refusal (409 when DDNS is off)."""
    updater = call.app[DDNS]
    if not updater.settings.enabled:
        raise Conflict("DDNS is off: set [ddns] enabled = true and restart the server", code="ddns_disabled")
    await updater.step(force=True)
    return updater.status()
