"""Licences that bind: a model runs only when the licence in force includes it, expiry stops analytics without a
restart, and simulated demo cameras use no camera slot."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings, seed
from tests.server.helpers import ApiClient
from tests.server.licence_helpers import Issuer
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.analytics.registry import ModelRegistry
from vms_server.app import create_app
from vms_server.licensing.entitlements import MODEL_ENTITLEMENTS
from vms_server.licensing.models import LicenceRecord

ISSUER = Issuer()


@pytest.fixture
async def lic_api(tmp_path: Path, db_url: str, aiohttp_client: object) -> ApiClient:
    settings = make_settings(tmp_path / "data", db_url, licensing={"public_keys": [ISSUER.public]},
                             analytics={"licence_check_s": 0.2})
    seeded = await seed(settings)
    return ApiClient(await aiohttp_client(create_app(settings)), seeded)  # type: ignore[operator]


async def _camera(api: ApiClient) -> str:
    body = {"name": f"cam-{uuid.uuid4().hex[:6]}", "site_id": str(api.seeded.site_id),
            "streams": [{"role": "main", "rtsp_url": "rtsp://127.0.0.1:9/none"}]}
    return str((await api.ok("POST", "/api/v1/cameras", json=body, status=201))["id"])


async def _wait(api: ApiClient, check: Any, seconds: float = 15) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        status = await api.ok("GET", "/api/v1/analytics/status", Role.VIEWER)
        if check(status):
            return dict(status)
        assert loop.time() < deadline, status
        await asyncio.sleep(0.1)


def test_every_built_in_model_has_an_entitlement() -> None:
    assert set(ModelRegistry().names()) == set(MODEL_ENTITLEMENTS)
    assert len(set(MODEL_ENTITLEMENTS.values())) == 10


async def test_a_model_outside_the_licence_is_refused_with_the_reason(lic_api: ApiClient) -> None:
    camera = await _camera(lic_api)
    # Evaluation (no licence yet) lets a customer try every model.
    await lic_api.ok("PUT", f"/api/v1/cameras/{camera}/analytics/motion", json={"enabled": True})
    await lic_api.ok("DELETE", f"/api/v1/cameras/{camera}/analytics/motion", status=204)

    await lic_api.ok("POST", "/api/v1/licence", json=ISSUER.issue().model_dump(mode="json"), status=201)
    resp = await lic_api.call("PUT", f"/api/v1/cameras/{camera}/analytics/motion", json={"enabled": True})
    error = (await resp.json())["error"]
    assert resp.status == 403 and error["code"] == "licence_model"
    assert "advanced_motion_detection" in error["message"] and "LIC-1" in error["message"]
    await lic_api.ok("PUT", f"/api/v1/cameras/{camera}/analytics/tampering", json={"enabled": True})
    # Disabling (or configuring a disabled model) is never refused: it cannot run anyway.
    await lic_api.ok("PUT", f"/api/v1/cameras/{camera}/analytics/motion", json={"enabled": False})

    models = {m["name"]: m for m in (await lic_api.ok("GET", "/api/v1/analytics/models", Role.VIEWER))["items"]}
    assert models["tampering"]["licensed"] is True and models["tampering"]["licence_reason"] is None
    assert models["motion"]["licensed"] is False and "advanced_motion_detection" in models["motion"]["licence_reason"]


async def test_an_expired_licence_stops_running_models_without_a_restart(lic_api: ApiClient) -> None:
    camera = await _camera(lic_api)
    await lic_api.ok("POST", "/api/v1/licence", json=ISSUER.issue().model_dump(mode="json"), status=201)
    await lic_api.ok("PUT", f"/api/v1/cameras/{camera}/analytics/tampering", json={"enabled": True})
    await _wait(lic_api, lambda s: [c["camera_id"] for c in s["cameras"]] == [camera])

    # The licence in force now is one that expired past its grace period (import refuses such a document, so it
    # is written as the cloud pull or an old import would have left it).
    expired = ISSUER.issue(licence_id="LIC-OLD", days_from=-400, days_until=-30, grace=7)
    async with lic_api.client.app[keys.SESSIONS].begin() as session:
        session.add(LicenceRecord(customer_id=lic_api.seeded.customer_id, licence_id="LIC-OLD",
                                  document=expired.model_dump_json()))
    status = await _wait(lic_api, lambda s: s["cameras"] == [])
    assert "licence expired" in status["unlicensed"]["tampering"]

    # A renewed licence starts the model again, still without a restart.
    await lic_api.ok("POST", "/api/v1/licence", json=ISSUER.issue(licence_id="LIC-NEW").model_dump(mode="json"),
                     status=201)
    status = await _wait(lic_api, lambda s: [c["camera_id"] for c in s["cameras"]] == [camera])
    assert status["unlicensed"] == {}


def test_licences_signed_before_server_binding_keep_their_signature() -> None:
    from vms_cloud_sync.protocol.licence import LicenceInvalid, verify

    unbound = ISSUER.issue()
    assert b"server_ids" not in unbound.terms.canonical()  # the form signed before the field existed
    assert verify(unbound, [ISSUER.public]).server_ids == []
    bound = ISSUER.issue(server_ids=["srv-" + "ab" * 10])
    moved = bound.model_copy(update={"terms": bound.terms.model_copy(update={"server_ids": ["srv-" + "cd" * 10]})})
    with pytest.raises(LicenceInvalid):
        verify(moved, [ISSUER.public])


async def test_a_licence_binds_to_its_server_and_its_customer(lic_api: ApiClient) -> None:
    server_id = (await lic_api.ok("GET", "/api/v1/licence", Role.VIEWER))["server_id"]
    assert server_id.startswith("srv-") and len(server_id) == 24
    elsewhere = ISSUER.issue(licence_id="LIC-OTHER", server_ids=["srv-" + "0" * 20])
    resp = await lic_api.call("POST", "/api/v1/licence", json=elsewhere.model_dump(mode="json"))
    error = (await resp.json())["error"]
    assert resp.status == 403 and error["code"] == "licence_wrong_server" and server_id in error["message"]

    acme = uuid.uuid4()
    mine = ISSUER.issue(licence_id="LIC-MINE", customer_id=acme, server_ids=[server_id, "srv-" + "1" * 20])
    assert (await lic_api.ok("POST", "/api/v1/licence", json=mine.model_dump(mode="json"), status=201))["state"] \
        == "valid"
    # Another customer's licence, even one good on any server, does not license this one.
    other = ISSUER.issue(licence_id="LIC-THEIRS", customer_id=uuid.uuid4(), max_cameras=500)
    resp = await lic_api.call("POST", "/api/v1/licence", json=other.model_dump(mode="json"))
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "licence_wrong_customer"

    # A database copied from another server brings its licence along, and it licenses nothing here.
    async with lic_api.client.app[keys.SESSIONS].begin() as session:
        session.add(LicenceRecord(customer_id=lic_api.seeded.customer_id, licence_id="LIC-OTHER",
                                  document=elsewhere.model_dump_json()))
    shown = await lic_api.ok("GET", "/api/v1/licence", Role.VIEWER)
    assert shown["licence_id"] == "LIC-MINE" and shown["max_cameras"] == 10
