"""A camera's stored password cannot be recovered through the API (issue 20, finding 9)."""

from __future__ import annotations

import json
import uuid

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.cameras.models import Camera

SECRET = "S3cr3t-pw"


async def _camera(api: ApiClient) -> dict[str, object]:
    body = {"name": "gate", "site_id": str(api.seeded.site_id),
            "onvif_url": f"http://root:{SECRET}@10.0.0.9/onvif/device_service",
            "streams": [{"role": "main", "rtsp_url": f"rtsp://root:{SECRET}@10.0.0.9:554/main"}]}
    created: dict[str, object] = await api.ok("POST", "/api/v1/cameras", json=body, status=201)
    return created


async def test_pointing_a_camera_at_another_host_needs_its_credentials(api: ApiClient) -> None:
    cam = await _camera(api)
    path = f"/api/v1/cameras/{cam['id']}"
    # The attack: an Admin moves the camera to a listener of theirs, hoping the server logs in there.
    for change in ({"streams": [{"role": "main", "rtsp_url": "rtsp://10.6.6.6:554/main"}]},
                   {"streams": [{"role": "main", "rtsp_url": "rtsp://10.0.0.9:8554/main"}]},
                   {"onvif_url": "http://10.6.6.6/onvif/device_service"}):
        resp = await api.call("PATCH", path, json=change)
        assert resp.status == 422, change
        assert (await resp.json())["error"]["code"] == "credentials_required"
    still = await api.ok("GET", path)
    assert still["streams"][0]["rtsp_url"] == "rtsp://10.0.0.9:554/main"
    assert still["onvif_url"] == "http://10.0.0.9/onvif/device_service"
    # The same host (another path) is fine; a new host with the credentials given again is fine.
    await api.ok("PATCH", path, json={"streams": [{"role": "main", "rtsp_url": "rtsp://10.0.0.9/other"}]})
    moved = await api.ok("PATCH", path, json={
        "streams": [{"role": "main", "rtsp_url": "rtsp://10.0.0.10:554/main"}],
        "credentials": {"method": "digest", "username": "root", "secret": "new-password"}})
    assert moved["streams"][0]["rtsp_url"] == "rtsp://10.0.0.10:554/main"
    # Credentials written into the ONVIF address count as given again: they are taken out of the URL, sealed
    # and used from then on (the URL is stored and returned without them).
    onvif = await api.ok("PATCH", path, json={"onvif_url": "http://admin:other-pw@10.0.0.11/onvif/device_service"})
    assert onvif["onvif_url"] == "http://10.0.0.11/onvif/device_service" and onvif["username"] == "admin"
    async with api.client.app[keys.SESSIONS]() as session:
        row = await session.get(Camera, uuid.UUID(str(cam["id"])))
        assert row is not None and "other-pw" not in (row.onvif_url or "")
        assert api.client.app[keys.SECRET_BOX].open(row.secret_sealed or "") == "other-pw"


async def test_onvif_url_credentials_are_never_returned(api: ApiClient) -> None:
    cam = await _camera(api)
    for role in (Role.VIEWER, Role.SUPERVISOR, Role.ADMIN):
        one = await api.ok("GET", f"/api/v1/cameras/{cam['id']}", role)
        listed = await api.ok("GET", "/api/v1/cameras", role)
        assert SECRET not in json.dumps(one) + json.dumps(listed)
        assert one["onvif_url"] == "http://10.0.0.9/onvif/device_service"
