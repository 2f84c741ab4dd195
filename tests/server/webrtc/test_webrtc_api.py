"""The WebRTC offer endpoint's refusals: each a clear 4xx or 503 (never a 500), behind a login, site-scoped."""

from __future__ import annotations

import uuid

from tests.server.helpers import ApiClient
from tests.server.webrtc.conftest import recvonly_peer
from vms_common.auth.roles import Role


async def _offer(codec: str) -> str:
    pc = recvonly_peer(codec)
    try:
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)
    finally:
        await pc.close()


async def _camera(api: ApiClient) -> str:
    """A camera that never comes online (nothing listens on its port)."""
    body = await api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201, json={
        "name": "dark", "site_id": str(api.seeded.site_id),
        "streams": [{"role": "main", "rtsp_url": "rtsp://127.0.0.1:9/none"}]})
    return str(body["id"])


async def test_refusals(api: ApiClient) -> None:
    camera_id = await _camera(api)
    path = f"/api/v1/cameras/{camera_id}/live/webrtc"

    async def post(json: object, role: Role | None = Role.VIEWER, to: str = path) -> tuple[int, dict[str, object]]:
        resp = await api.call("POST", to, role, json=json)
        return resp.status, (await resp.json())

    status, body = await post({"sdp": "v=0\r\nthis is not sdp at all\r\n"})
    assert status == 422, body
    status, body = await post({"sdp": await _offer("H264"), "stream": "third"})
    assert status == 422, body
    status, body = await post({"sdp": await _offer("H264")})
    assert status == 503, body  # known camera, but its stream is not online
    status, _ = await post({"sdp": await _offer("H264")}, to=f"/api/v1/cameras/{uuid.uuid4()}/live/webrtc")
    assert status == 404
    status, _ = await post({"sdp": await _offer("H264")}, role=None)
    assert status == 401
    resp = await api.call("DELETE", f"{path}/{uuid.uuid4()}", Role.VIEWER)
    assert resp.status == 404
