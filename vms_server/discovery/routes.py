"""Discovery API: WS-Discovery and IP range scans run as jobs the client polls; found cameras are added with
POST /cameras/bulk."""

from __future__ import annotations

from sqlalchemy import select

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.cameras.models import Camera
from vms_server.cameras.service import split_url_credentials
from vms_server.discovery.jobs import Job
from vms_server.discovery.keys import DISCOVERY_JOBS
from vms_server.discovery.scan import parse_range, run_scan
from vms_server.discovery.schemas import JobOut, ScanIn, WsDiscoveryIn
from vms_server.discovery.service import STEPS, run_ws_discovery

router = ApiRouter()
TAGS = ["discovery"]


@router.route("POST", "/discovery/ws-discovery", role=Role.ADMIN, body=WsDiscoveryIn, response=JobOut, status=202,
              tags=TAGS, errors=(422, 429))
async def start_ws_discovery(call: Call[WsDiscoveryIn]) -> JobOut:
    """Multicast an ONVIF WS-Discovery probe out of the server's interfaces; poll the job for the answers."""
    body = call.body
    job = Job(kind="ws-discovery", customer_id=call.user.customer_id, total=STEPS)
    return call.app[DISCOVERY_JOBS].start(job, lambda j: run_ws_discovery(j, body)).out()


@router.route("POST", "/discovery/scan", role=Role.ADMIN, body=ScanIn, response=JobOut, status=202, tags=TAGS,
              errors=(422, 429))
async def start_scan(call: Call[ScanIn]) -> JobOut:
    """Scan an IPv4 range for ONVIF and RTSP ports (bad ranges and ranges over 4096 addresses: 422)."""
    body = call.body
    addresses = parse_range(body.range)
    job = Job(kind="scan", customer_id=call.user.customer_id, total=len(addresses))
    return call.app[DISCOVERY_JOBS].start(job, lambda j: run_scan(j, body, addresses)).out()


@router.route("GET", "/discovery/jobs/{job_id}", role=Role.ADMIN, response=JobOut, tags=TAGS, errors=(404,))
async def get_job(call: Call[NoBody]) -> JobOut:
    """A search's progress and the devices found so far, each marked when it is already a configured camera."""
    out = call.app[DISCOVERY_JOBS].get(call.path_uuid("job_id"), call.user.customer_id).out()
    async with call.app[keys.SESSIONS]() as session:
        known = {split_url_credentials(u)[0].rstrip("/") for u in (await session.scalars(
            select(Camera.onvif_url).where(Camera.customer_id == call.user.customer_id,
                                           Camera.onvif_url.is_not(None)))).all() if u}
    for device in out.found:
        device.already_added = bool(device.onvif_url) and (device.onvif_url or "").rstrip("/") in known
    return out
