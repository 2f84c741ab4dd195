"""Fixtures of the DDNS tests: the local provider stand-in and an updater factory with a hand-driven clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from tests.server.ddns.fake_providers import FakeProviders, running_providers
from vms_server.ddns.settings import DdnsSettings
from vms_server.ddns.updater import DdnsUpdater


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def fake() -> AsyncIterator[FakeProviders]:
    async with running_providers() as providers:
        yield providers


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def clock() -> Clock:
    return Clock()


MakeUpdater = Callable[..., DdnsUpdater]


@pytest.fixture
def make_updater(fake: FakeProviders, http: aiohttp.ClientSession, clock: Clock) -> MakeUpdater:
    def make(**config: Any) -> DdnsUpdater:
        base = {"enabled": True, "ip_url": f"{fake.base_url}/ip", "timeout_s": 5}
        if config.get("provider") == "cloudflare":
            base["base_url"] = f"{fake.base_url}/client/v4"
        elif config.get("provider") != "custom":
            base["base_url"] = fake.base_url
        return DdnsUpdater(DdnsSettings.model_validate({**base, **config}), http, clock)
    return make


async def until(check: Callable[[], Awaitable[bool]], limit_s: float = 20.0) -> None:
    """Poll `check` until it holds, failing after a generous deadline (the machine may be heavily loaded)."""
    deadline = time.monotonic() + limit_s
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)
