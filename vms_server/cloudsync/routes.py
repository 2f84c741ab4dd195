"""`/api/v1/sync`: read the sync state, switch it off/on/paused, enrol with the cloud. Admin only."""

from __future__ import annotations

from aiohttp import web

from vms_cloud_sync.protocol.sync import EnrolIn
from vms_common import __version__
from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_common.errors import BadGateway, InvalidInput
from vms_server import keys
from vms_server.api.context import actor_of
from vms_server.cloudsync import client, observe, service
from vms_server.cloudsync.keys import CLOUD_SYNC
from vms_server.cloudsync.schemas import EnrolRequest, SyncStatus, SyncUpdate

router = ApiRouter()


def _poke(app: web.Application) -> None:
    if CLOUD_SYNC in app:
        app[CLOUD_SYNC].poke()


@router.route("GET", "/sync", role=Role.ADMIN, response=SyncStatus, tags=["sync"])
async def get_sync(call: Call[NoBody]) -> SyncStatus:
    """Mode, enrolment, backlog, lag, last success and last error of the cloud sync."""
    async with call.app[keys.SESSIONS].begin() as session:
        return await service.status(session)


@router.route("PUT", "/sync", role=Role.ADMIN, every_site=True,
              body=SyncUpdate, response=SyncStatus, tags=["sync"], errors=(409,))
async def put_sync(call: Call[SyncUpdate]) -> SyncStatus:
    """Turn cloud sync off (nothing is queued), on, or paused (queued, not pushed)."""
    async with call.app[keys.SESSIONS].begin() as session:
        result = await service.set_mode(session, call.body.mode, actor_of(call))
    _poke(call.app)
    return result


@router.route("POST", "/sync/enrol", role=Role.ADMIN, every_site=True,
              body=EnrolRequest, response=SyncStatus, tags=["sync"],
              errors=(502,))
async def enrol(call: Call[EnrolRequest]) -> SyncStatus:
    """Redeem a one-time enrolment token from HQ; the server keeps its own credential (sealed)."""
    body = call.body
    try:
        out = await client.enrol(body.cloud_url, EnrolIn(token=body.token, name=body.name, version=__version__),
                                 body.cloud_fingerprint)
    except client.CloudUnavailable as exc:
        raise BadGateway(f"cloud not reachable: {exc}", code="cloud_unreachable") from None
    except client.CloudRefused as exc:
        raise InvalidInput(f"enrolment refused: {exc}", code="enrolment_refused") from None
    async with call.app[keys.SESSIONS].begin() as session:
        return await service.store_enrolment(session, call.app[keys.SECRET_BOX], body.cloud_url,
                                             str(out.edge_id), out.credential, actor_of(call),
                                             body.cloud_fingerprint)


@router.route("GET", "/sync/metrics", role=Role.ADMIN, media_type="text/plain", tags=["sync"])
async def sync_metrics(call: Call[NoBody]) -> web.StreamResponse:
    """Prometheus text: mode, backlog, lag, pushed total, last success, failing."""
    return await observe.metrics_response(call.app)
