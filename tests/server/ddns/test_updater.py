"""The updater's policy, driven step by step with a hand-moved clock: change-only updates, the periodic
refresh, doubling back-off, the permanent stop, and the secret kept out of logs and status."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from tests.server.ddns.conftest import Clock, MakeUpdater, until
from tests.server.ddns.fake_providers import HOST, PASSWORD, TOKEN, USER, FakeProviders
from vms_server.ddns.settings import DdnsSettings
from vms_server.ddns.updater import DdnsUpdater

NOIP = {"provider": "noip", "hostname": HOST, "username": USER, "secret": PASSWORD,
        "interval_s": 300, "refresh_hours": 24, "backoff_initial_s": 60, "backoff_max_s": 600}


async def test_updates_only_when_the_address_changes(fake: FakeProviders, make_updater: MakeUpdater,
                                                     clock: Clock) -> None:
    updater = make_updater(**NOIP)
    assert (await updater.step()) is not None and fake.sent("/nic/update") == 1
    assert updater.status().next_try_at is not None
    assert updater.next_try_at == clock.now + 300
    for _ in range(5):  # same address: checked, not sent
        clock.now += 300
        assert await updater.step() is None
    assert fake.sent("/nic/update") == 1 and fake.sent("/ip") == 6
    assert updater.status().state == "ok" and "unchanged" in updater.status().message
    fake.public_ip = "203.0.113.99"
    clock.now += 300
    answer = await updater.step()
    assert answer is not None and answer.detail == "good 203.0.113.99" and fake.records[HOST] == "203.0.113.99"
    assert updater.status().last_address == "203.0.113.99"


async def test_refreshes_an_unchanged_record_every_n_hours(fake: FakeProviders, make_updater: MakeUpdater,
                                                           clock: Clock) -> None:
    updater = make_updater(**NOIP)
    await updater.step()
    clock.now += 23.9 * 3600
    assert await updater.step() is None
    clock.now += 0.2 * 3600
    answer = await updater.step()
    assert answer is not None and answer.kind == "nochg" and fake.sent("/nic/update") == 2


async def test_backs_off_doubling_then_recovers(fake: FakeProviders, make_updater: MakeUpdater,
                                               clock: Clock) -> None:
    fake.forced = "911"
    updater = make_updater(**NOIP)
    delays = []
    for _ in range(6):
        start = clock.now
        answer = await updater.step()
        assert answer is not None and answer.kind == "temporary"
        assert updater.next_try_at is not None
        delays.append(updater.next_try_at - start)
        clock.now = updater.next_try_at
    assert delays == [60, 120, 240, 480, 600, 600]
    status = updater.status()
    assert status.state == "retrying" and status.failures == 6 and status.last_result == "911"
    fake.forced = None
    answer = await updater.step()
    assert answer is not None and answer.kind == "good"
    assert updater.failures == 0 and updater.next_try_at == clock.now + 300


async def test_address_lookup_failures_back_off_without_sending(fake: FakeProviders,
                                                                make_updater: MakeUpdater) -> None:
    fake.ip_status = 500
    updater = make_updater(**NOIP)
    assert await updater.step() is None
    assert updater.status().state == "retrying" and "HTTP 500" in updater.message
    fake.ip_status, fake.public_ip = 200, "<html>not an address</html>"
    assert await updater.step() is None and "not an IPv4 address" in updater.message
    assert updater.failures == 2 and fake.sent("/nic/update") == 0


async def test_fixed_address_needs_no_lookup(fake: FakeProviders, make_updater: MakeUpdater) -> None:
    updater = make_updater(**NOIP, fixed_ip="192.0.2.10")
    answer = await updater.step()
    assert answer is not None and answer.detail == "good 192.0.2.10" and fake.sent("/ip") == 0


async def test_forced_update_retries_after_a_permanent_stop(fake: FakeProviders, make_updater: MakeUpdater) -> None:
    fake.forced = "nohost"
    updater = make_updater(**NOIP)
    await updater.step()
    assert updater.state == "stopped"
    fake.forced = None  # the host was created at the provider
    answer = await updater.step(force=True)
    assert answer is not None and answer.kind == "good" and updater.state == "ok" and updater.next_try_at


@pytest.mark.parametrize("config", [
    {**NOIP, "secret": "wrong"},
    {"provider": "duckdns", "hostname": "mysite", "secret": TOKEN + "x"},
    {"provider": "cloudflare", "hostname": HOST, "secret": TOKEN + "x"},
    {"provider": "noip", "hostname": HOST, "username": USER, "secret": PASSWORD, "base_url": "http://127.0.0.1:9"},
])
async def test_the_secret_is_never_logged_nor_shown(config: dict[str, str], make_updater: MakeUpdater,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    updater = make_updater(**config)
    answer = await updater.step()
    assert answer is not None and not answer.ok
    secret = config["secret"]
    shown = updater.status().model_dump_json() + repr(updater.settings) + updater.settings.model_dump_json()
    assert secret not in caplog.text and secret not in shown and "ddns" in caplog.text


async def test_a_custom_url_error_does_not_leak_the_secret_in_the_url(make_updater: MakeUpdater,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    updater = make_updater(provider="custom", secret=TOKEN,
                           custom_url="http://127.0.0.1:9/u?key={secret}&ip={ip}")
    answer = await updater.step()
    assert answer is not None and answer.kind == "temporary"
    assert TOKEN not in caplog.text and TOKEN not in updater.status().model_dump_json()


def test_incomplete_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="needs username, secret"):
        DdnsSettings(enabled=True, provider="noip", hostname=HOST)
    with pytest.raises(ValueError, match="needs custom_url"):
        DdnsSettings(enabled=True, provider="custom")
    assert DdnsSettings().enabled is False  # off by default, nothing else required


async def _now(value: bool) -> bool:
    return value


async def test_run_wakes_for_a_forced_step_and_stops_cleanly(fake: FakeProviders,
                                                             http: aiohttp.ClientSession) -> None:
    settings = DdnsSettings.model_validate({**NOIP, "enabled": True, "base_url": fake.base_url,
                                            "ip_url": f"{fake.base_url}/ip", "interval_s": 3600})
    updater = DdnsUpdater(settings, http)  # the real clock: the first step is due at once
    task = asyncio.create_task(updater.run())
    try:
        await until(lambda: _now(updater.last_result is not None))
        assert updater.last_result == "good 203.0.113.7" and fake.sent("/nic/update") == 1
        fake.public_ip = "203.0.113.8"
        assert updater.next_try_at is not None
        updater.next_try_at -= 3600  # due now; wake ends the hour's wait early
        updater.wake()
        await until(lambda: _now(updater.last_address == "203.0.113.8"))
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
