"""The DDNS updater: one `step` decides whether to send, sends, and schedules the next try.

`step` is the whole policy (change-only updates, a periodic refresh, doubling back-off on errors, a permanent
stop on refusals) and takes the clock as an argument so tests drive it without sleeping; `run` only waits for
the scheduled time or a forced update."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Literal

import aiohttp
from aiohttp import web
from pydantic import BaseModel

from vms_common.aio import cancel_and_wait
from vms_common.api.health import Component
from vms_server import keys
from vms_server.ddns.keys import DDNS
from vms_server.ddns.providers import USER_AGENT, Answer, redact, send_update
from vms_server.ddns.settings import DdnsSettings

logger = logging.getLogger(__name__)

State = Literal["disabled", "starting", "ok", "retrying", "stopped"]


class DdnsStatus(BaseModel):
    enabled: bool
    provider: str
    hostname: str | None
    state: State
    last_address: str | None
    last_result: str | None
    last_update_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    next_try_at: dt.datetime | None
    failures: int
    message: str


def _at(ts: float | None) -> dt.datetime | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC)


class DdnsUpdater:
    def __init__(self, settings: DdnsSettings, http: aiohttp.ClientSession,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.http = http
        self.clock = clock
        self.state: State = "starting" if settings.enabled else "disabled"
        self.last_address: str | None = None  # the address the provider last accepted
        self.last_result: str | None = None
        self.last_update_at: float | None = None  # when the provider last accepted an update
        self.last_attempt_at: float | None = None
        self.next_try_at: float | None = clock() if settings.enabled else None
        self.failures = 0
        self.message = "DDNS is off" if not settings.enabled else "first update pending"
        self.updates_sent = 0
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    async def public_address(self) -> str:
        """The fixed address, or the plain-text answer of the 'what is my IP' URL (must be a public IPv4)."""
        if self.settings.fixed_ip is not None:
            return str(self.settings.fixed_ip)
        async with self.http.get(self.settings.ip_url, headers={"User-Agent": USER_AGENT},
                                 timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s)) as resp:
            text = (await resp.text(errors="replace")).strip()
            if resp.status != 200:
                raise ValueError(f"address lookup answered HTTP {resp.status}")
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            raise ValueError(f"address lookup answered {text[:60]!r}, not an IPv4 address") from None

    async def step(self, *, force: bool = False) -> Answer | None:
        """One check: find the address, send an update when it changed, is due for refresh, or `force`d.

        Returns the provider's answer, or None when nothing was sent. After a permanent refusal only a forced
        update (an administrator's POST) tries again."""
        async with self._lock:
            if not self.settings.enabled or (self.state == "stopped" and not force):
                return None
            now = self.clock()
            try:
                address = await self.public_address()
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                self._failed(now, Answer("temporary", redact(f"{type(exc).__name__}: {exc}", self.settings)))
                return None
            refresh_due = (self.last_update_at is None
                           or now - self.last_update_at >= self.settings.refresh_hours * 3600)
            if address == self.last_address and not refresh_due and not force:
                self.state, self.failures = "ok", 0
                self.next_try_at = now + self.settings.interval_s
                self.message = f"{self.settings.hostname} -> {address}, unchanged"
                return None
            answer = await send_update(self.http, self.settings, address)
            self.updates_sent += 1
            self.last_attempt_at, self.last_result = now, answer.detail
            if answer.ok:
                self.state, self.failures = "ok", 0
                self.last_address, self.last_update_at = address, now
                self.next_try_at = now + self.settings.interval_s
                self.message = f"{self.settings.hostname} -> {address} ({answer.kind})"
                logger.info("ddns %s: %s -> %s accepted (%s)", self.settings.provider, self.settings.hostname,
                            address, answer.detail)
            elif answer.kind == "permanent":
                self.state, self.next_try_at = "stopped", None
                self.message = (f"{self.settings.provider} refused the update ({answer.detail}); updates stopped "
                                "until the settings are fixed and the server restarted, or an update is forced")
                logger.error("ddns %s: %s", self.settings.provider, self.message)
            else:
                self._failed(now, answer)
            return answer

    def _failed(self, now: float, answer: Answer) -> None:
        self.failures += 1
        delay = min(self.settings.backoff_initial_s * 2 ** (self.failures - 1), self.settings.backoff_max_s)
        self.state, self.last_result, self.last_attempt_at = "retrying", answer.detail, now
        self.next_try_at = now + delay
        self.message = f"attempt {self.failures} failed ({answer.detail}); retrying in {delay:.0f} s"
        logger.warning("ddns %s: %s", self.settings.provider, self.message)

    def status(self) -> DdnsStatus:
        return DdnsStatus(
            enabled=self.settings.enabled, provider=self.settings.provider, hostname=self.settings.hostname,
            state=self.state, last_address=self.last_address, last_result=self.last_result,
            last_update_at=_at(self.last_update_at), last_attempt_at=_at(self.last_attempt_at),
            next_try_at=_at(self.next_try_at), failures=self.failures, message=self.message)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Step whenever the next try is due; `wake` (settings tests, shutdown) ends a wait early."""
        while True:
            if self.next_try_at is not None and self.clock() >= self.next_try_at:
                try:
                    await self.step()
                except Exception:  # a bug must not end DDNS for the life of the server
                    logger.exception("ddns step failed")
                    self._failed(self.clock(), Answer("temporary", "internal error (see the server log)"))
            delay = None if self.next_try_at is None else max(0.0, self.next_try_at - self.clock())
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)


async def ddns_health(app: web.Application) -> Component:
    status = app[DDNS].status()
    return Component(name="ddns", ok=status.state in ("ok", "starting"), detail=status.message,
                     value=status.failures)


async def ddns_context(app: web.Application) -> AsyncIterator[None]:
    """Start the updater when `[ddns] enabled`; the status API answers 'disabled' otherwise."""
    settings = app[keys.SETTINGS].ddns
    async with aiohttp.ClientSession() as http:
        updater = DdnsUpdater(settings, http)
        app[DDNS] = updater
        task = asyncio.create_task(updater.run(), name="ddns") if settings.enabled else None
        if settings.enabled:
            app[keys.HEALTH_PROBES].append(ddns_health)
        yield
        await cancel_and_wait([task])
