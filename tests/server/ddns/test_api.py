"""DDNS through the running server: the updater starts with the app, its status and a forced update are served
to administrators only, health shows it, and the secret never appears in an answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_settings
from tests.server.ddns.conftest import until
from tests.server.ddns.fake_providers import HOST, PASSWORD, USER, FakeProviders
from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server.settings import Settings


@pytest.fixture
def ddns_config(fake: FakeProviders) -> dict[str, Any]:
    return {"enabled": True, "provider": "dynu", "hostname": HOST, "username": USER, "secret": PASSWORD,
            "base_url": fake.base_url, "ip_url": f"{fake.base_url}/ip", "interval_s": 3600}


@pytest.fixture
def settings(tmp_path: Path, db_url: str, ddns_config: dict[str, Any]) -> Settings:
    return make_settings(tmp_path / "data", db_url, ddns=ddns_config)


async def test_status_and_forced_update(api: ApiClient, fake: FakeProviders) -> None:
    async def first_update_done() -> bool:  # sent when the server starts
        return (await api.ok("GET", "/api/v1/network/ddns"))["last_result"] is not None

    await until(first_update_done)
    status = await api.ok("GET", "/api/v1/network/ddns")
    assert status["provider"] == "dynu" and status["hostname"] == HOST and status["state"] == "ok"
    assert status["last_address"] == "203.0.113.7" and status["last_result"] == "good 203.0.113.7"
    assert status["last_update_at"] is not None and status["next_try_at"] > status["last_update_at"]
    forced = await api.ok("POST", "/api/v1/network/ddns/update")
    assert forced["last_result"] == "nochg 203.0.113.7" and fake.sent("/nic/update") == 2
    for role in (Role.VIEWER, Role.SUPERVISOR):
        assert (await api.call("GET", "/api/v1/network/ddns", role)).status == 403
        assert (await api.call("POST", "/api/v1/network/ddns/update", role)).status == 403
    health = await api.ok("GET", "/health/detailed")
    ddns = next(c for c in health["components"] if c["name"] == "ddns")
    assert ddns["ok"] is True and HOST in ddns["detail"]
    for path in ("/api/v1/network/ddns", "/health/detailed", "/api/v1/openapi.json"):
        resp = await api.call("GET", path)
        assert PASSWORD not in await resp.text()


async def test_a_refusal_shows_as_stopped(api: ApiClient, fake: FakeProviders) -> None:
    fake.forced = "badauth"
    status = await api.ok("POST", "/api/v1/network/ddns/update")
    assert status["state"] == "stopped" and status["last_result"] == "badauth" and status["next_try_at"] is None
    health = await api.ok("GET", "/health/detailed")
    assert next(c for c in health["components"] if c["name"] == "ddns")["ok"] is False


@pytest.mark.parametrize("ddns_config", [{}])
async def test_off_by_default(api: ApiClient, fake: FakeProviders) -> None:
    status = await api.ok("GET", "/api/v1/network/ddns")
    assert status["enabled"] is False and status["state"] == "disabled" and status["next_try_at"] is None
    resp = await api.call("POST", "/api/v1/network/ddns/update")
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "ddns_disabled"
    assert fake.requests == []
