"""Licence verification end to end: valid, tampered, foreign key, expired, grace, over limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import make_settings, seed
from tests.server.helpers import ApiClient
from tests.server.licence_helpers import Issuer
from vms_common.auth.roles import Role
from vms_server.app import create_app

ISSUER = Issuer()


@pytest.fixture
async def lic_api(tmp_path: Path, db_url: str, aiohttp_client: object) -> ApiClient:
    settings = make_settings(tmp_path / "data", db_url, licensing={"public_keys": [ISSUER.public]})
    seeded = await seed(settings)
    return ApiClient(await aiohttp_client(create_app(settings)), seeded)  # type: ignore[operator]


def cam(api: ApiClient, i: int) -> dict[str, object]:
    return {"name": f"c{i}", "site_id": str(api.seeded.site_id), "streams": [{"role": "main", "rtsp_url": "rtsp://h/"}]}


async def test_valid_licence_raises_the_limit_and_is_enforced(lic_api: ApiClient) -> None:
    doc = ISSUER.issue(max_cameras=5).model_dump(mode="json")
    status = await lic_api.ok("POST", "/api/v1/licence", json=doc, status=201)
    assert status["state"] == "valid" and status["max_cameras"] == 5
    assert status["analytics"] == ["camera_tampering", "intrusion_detection"]
    for i in range(5):
        await lic_api.ok("POST", "/api/v1/cameras", json=cam(lic_api, i), status=201)
    resp = await lic_api.call("POST", "/api/v1/cameras", json=cam(lic_api, 9))
    assert resp.status == 403 and "allows 5 cameras" in (await resp.json())["error"]["message"]
    shown = await lic_api.ok("GET", "/api/v1/licence", Role.VIEWER)
    assert shown["cameras_used"] == 5
    assert (await lic_api.call("POST", "/api/v1/licence", json=doc)).status == 409


async def test_tampered_licence_is_refused(lic_api: ApiClient) -> None:
    doc = ISSUER.issue(max_cameras=5).model_dump(mode="json")
    doc["terms"]["max_cameras"] = 500
    resp = await lic_api.call("POST", "/api/v1/licence", json=doc)
    assert resp.status == 403  # well formed, but it does not bind this server (issue 20: not a 422)
    assert "signature does not match" in (await resp.json())["error"]["message"]


async def test_licence_from_an_untrusted_key_is_refused(lic_api: ApiClient) -> None:
    doc = Issuer().issue().model_dump(mode="json")
    resp = await lic_api.call("POST", "/api/v1/licence", json=doc)
    assert resp.status == 403 and "unknown key" in (await resp.json())["error"]["message"]


async def test_expired_licence_is_refused_and_grace_is_reported(lic_api: ApiClient) -> None:
    expired = ISSUER.issue(days_from=-400, days_until=-30, grace=14, licence_id="OLD").model_dump(mode="json")
    resp = await lic_api.call("POST", "/api/v1/licence", json=expired)
    assert resp.status == 403 and "expired" in (await resp.json())["error"]["message"]
    never = ISSUER.issue(days_from=10, days_until=-10, licence_id="NEVER").model_dump(mode="json")
    resp = await lic_api.call("POST", "/api/v1/licence", json=never)  # signed, but its window is inverted
    assert resp.status == 403 and "never valid" in (await resp.json())["error"]["message"]
    grace = ISSUER.issue(days_from=-400, days_until=-3, grace=14, licence_id="GRACE").model_dump(mode="json")
    status = await lic_api.ok("POST", "/api/v1/licence", json=grace, status=201)
    assert status["state"] == "grace" and status["max_cameras"] == 10 and "renew" in status["message"]


async def test_licence_with_malformed_fields_is_422(lic_api: ApiClient) -> None:
    doc = ISSUER.issue().model_dump(mode="json")
    doc["terms"]["analytics"] = ["teleportation"]
    assert (await lic_api.call("POST", "/api/v1/licence", json=doc)).status == 422
    assert (await lic_api.call("POST", "/api/v1/licence", json={"terms": {}})).status == 422


def test_canonical_form_survives_reserialisation() -> None:
    from vms_cloud_sync.protocol.licence import parse, verify

    signed = ISSUER.issue()
    pretty = json.dumps(json.loads(signed.model_dump_json()), indent=4, sort_keys=False)
    assert verify(parse(pretty), [ISSUER.public]).max_cameras == 10
