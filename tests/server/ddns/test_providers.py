"""Each provider's protocol against the local stand-in: success, no change, and the documented refusals."""

from __future__ import annotations

import pytest

from tests.server.ddns.conftest import MakeUpdater
from tests.server.ddns.fake_providers import HOST, PASSWORD, TOKEN, USER, FakeProviders

DYNDNS2 = {"hostname": HOST, "username": USER, "secret": PASSWORD}


@pytest.mark.parametrize("provider", ["noip", "dynu", "dyndns2"])
async def test_dyndns2_good_then_nochg(provider: str, fake: FakeProviders, make_updater: MakeUpdater) -> None:
    updater = make_updater(provider=provider, **DYNDNS2)
    answer = await updater.step()
    assert answer is not None and answer.kind == "good" and answer.detail == "good 203.0.113.7"
    assert fake.records[HOST] == "203.0.113.7"
    # The password travels as basic auth (with its ':' and '&' intact), never in the query string.
    method, path = next(r for r in fake.requests if r[1].startswith("/nic/update"))
    assert method == "GET" and "myip=203.0.113.7" in path and f"hostname={HOST}" in path and "pa%20ss" not in path
    answer = await updater.step(force=True)
    assert answer is not None and answer.kind == "nochg"
    status = updater.status()
    assert status.state == "ok" and status.last_address == "203.0.113.7" and status.last_result == "nochg 203.0.113.7"


@pytest.mark.parametrize(("config", "forced", "expected"), [
    ({"secret": "wrong"}, None, "badauth"),
    ({"hostname": "other.example.com"}, None, "nohost"),
    ({}, "abuse", "abuse"),
    ({}, "!donator", "!donator"),
])
async def test_dyndns2_refusals_stop_for_good(config: dict[str, str], forced: str | None, expected: str,
                                              fake: FakeProviders, make_updater: MakeUpdater) -> None:
    fake.forced = forced
    updater = make_updater(provider="noip", **{**DYNDNS2, **config})
    answer = await updater.step()
    assert answer is not None and answer.kind == "permanent" and answer.detail == expected
    status = updater.status()
    assert status.state == "stopped" and status.next_try_at is None and expected in status.message
    sent = fake.sent("/nic/update")
    updater.clock.now += 10 * 86400  # type: ignore[attr-defined]
    assert await updater.step() is None and fake.sent("/nic/update") == sent  # nothing more is sent


@pytest.mark.parametrize("forced", ["911", "dnserr", "HTTP 503"])
async def test_dyndns2_server_trouble_is_temporary(forced: str, fake: FakeProviders,
                                                   make_updater: MakeUpdater) -> None:
    fake.forced = forced
    updater = make_updater(provider="dynu", **DYNDNS2)
    answer = await updater.step()
    assert answer is not None and answer.kind == "temporary"
    assert updater.status().state == "retrying" and updater.failures == 1


async def test_duckdns(fake: FakeProviders, make_updater: MakeUpdater) -> None:
    updater = make_updater(provider="duckdns", hostname="mysite.duckdns.org", secret=TOKEN)
    answer = await updater.step()
    assert answer is not None and answer.kind == "good" and fake.records["mysite"] == "203.0.113.7"
    assert any("domains=mysite&" in path for _, path in fake.requests)
    refused = make_updater(provider="duckdns", hostname="mysite", secret="not-the-token")
    answer = await refused.step()
    assert answer is not None and answer.kind == "permanent" and answer.detail.startswith("KO")
    assert refused.status().state == "stopped"


async def test_cloudflare_updates_the_a_record_only_when_it_differs(fake: FakeProviders,
                                                                   make_updater: MakeUpdater) -> None:
    updater = make_updater(provider="cloudflare", hostname=HOST, secret=TOKEN)
    answer = await updater.step()
    assert answer is not None and answer.kind == "good" and fake.records[HOST] == "203.0.113.7"
    assert [m for m, _ in fake.requests][-3:] == ["GET", "GET", "PATCH"]  # zone, record, update
    patches = sum(1 for m, _ in fake.requests if m == "PATCH")
    answer = await updater.step(force=True)
    assert answer is not None and answer.kind == "nochg"
    assert sum(1 for m, _ in fake.requests if m == "PATCH") == patches  # same content: no PATCH


@pytest.mark.parametrize(("config", "detail"), [
    ({"secret": "bad-token"}, "10000: Authentication error"),
    ({"hostname": "cams.other.org"}, "zone other.org not found"),
    ({"hostname": "missing.example.com"}, "no A record missing.example.com"),
])
async def test_cloudflare_refusals(config: dict[str, str], detail: str, fake: FakeProviders,
                                   make_updater: MakeUpdater) -> None:
    updater = make_updater(provider="cloudflare", **{"hostname": HOST, "secret": TOKEN, **config})
    answer = await updater.step()
    assert answer is not None and answer.kind == "permanent" and detail in answer.detail
    assert updater.status().state == "stopped"


async def test_cloudflare_server_error_is_temporary(fake: FakeProviders, make_updater: MakeUpdater) -> None:
    fake.forced = "HTTP 502"
    updater = make_updater(provider="cloudflare", hostname=HOST, secret=TOKEN)
    answer = await updater.step()
    assert answer is not None and answer.kind == "temporary" and "HTTP 502" in answer.detail


async def test_custom_url_template(fake: FakeProviders, make_updater: MakeUpdater) -> None:
    template = f"{fake.base_url}/custom?host={{hostname}}&addr={{ip}}&key={{secret}}"
    updater = make_updater(provider="custom", hostname="gate.example.net", secret=TOKEN, custom_url=template)
    answer = await updater.step()
    assert answer is not None and answer.kind == "good" and fake.records["gate.example.net"] == "203.0.113.7"
    refused = make_updater(provider="custom", hostname="gate.example.net", secret="nope", custom_url=template)
    answer = await refused.step()
    assert answer is not None and answer.kind == "permanent" and answer.detail.startswith("HTTP 403")
