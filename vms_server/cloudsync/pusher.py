"""The background task that drains the outbox to the cloud, in outbox order, with backoff and jitter.

Items are deleted only after the backend acknowledged them (stored or duplicate), so a crash, a restart or
a week offline loses nothing: the next run starts again from the oldest item. A clip item blocks the items
behind it until its file is uploaded, which keeps every camera's items in order at HQ.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_cloud_sync.protocol.sync import ClipStart, HeartbeatIn, IngestBatch, IngestItem
from vms_common import __version__
from vms_common.aio import cancel_and_wait
from vms_common.db.base import utcnow
from vms_server import keys
from vms_server.api.keys import HUB
from vms_server.cloudsync import health as sync_health
from vms_server.cloudsync import observe
from vms_server.cloudsync.actions import ActionApplier
from vms_server.cloudsync.client import CloudClient, CloudRefused, CloudUnavailable, RateLimit, file_sha256_blocking
from vms_server.cloudsync.config import CloudSyncSettings
from vms_server.cloudsync.keys import CLOUD_SYNC
from vms_server.cloudsync.models import OutboxItem
from vms_server.cloudsync.service import state_row
from vms_server.events.models import Event
from vms_server.metrics.keys import METRICS
from vms_server.security.keystore import SecretBox

logger = logging.getLogger(__name__)


def backoff_delay(failures: int, base: float, cap: float) -> float:
    """Exponential backoff with "equal jitter": at least half the step, so edges never hammer in step."""
    step = min(cap, base * (2 ** min(failures - 1, 30)))
    return float(step / 2 + random.uniform(0, step / 2))


Heartbeat = Callable[[], Awaitable[HeartbeatIn]]
Pull = Callable[[CloudClient], Awaitable[dict[str, Any]]]
Actions = Callable[[CloudClient], Awaitable[int]]


class Pusher:
    """Pushes the outbox to the cloud. `heartbeat` builds the site's health report, `pull` installs what the
    cloud has for this site (licence, settings) and returns the cloud-side settings, `actions` applies HQ's
    actions on this site (the way down) and returns how many it confirmed."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox, tuning: CloudSyncSettings,
                 *, heartbeat: Heartbeat, pull: Pull, actions: Actions | None = None) -> None:
        self._sessions, self._box = sessions, box
        self._heartbeat, self._pull, self._actions = heartbeat, pull, actions
        self.tuning = tuning
        self.wake = asyncio.Event()
        self.failures = 0
        self._client: CloudClient | None = None
        self._credential: tuple[str, str, str | None] | None = None
        self._next_heartbeat = 0.0
        self._next_pull = 0.0
        self._next_actions = 0.0
        self.cloud_settings: dict[str, Any] = {}
        self.gauges: Callable[[], Awaitable[None]] | None = None  # refreshes the /metrics gauges

    def poke(self) -> None:
        """Push now instead of at the next poll (called after enqueueing or changing the mode)."""
        self.wake.set()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def run(self) -> None:
        while True:
            try:
                delay = await self._step()
            except Exception as exc:  # a database hiccup must not end the task; try again later
                logger.exception("cloud sync round failed", extra={"error": type(exc).__name__})
                self.failures += 1
                delay = backoff_delay(self.failures, self.tuning.backoff_base_s, self.tuning.backoff_max_s)
            if self.gauges is not None:
                try:
                    await self.gauges()
                except Exception:
                    logger.exception("could not refresh the cloud sync gauges")
            self.wake.clear()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=delay)

    async def _step(self) -> float:
        """One round; returns how long to wait before the next."""
        client = await self._current_client()
        if client is None:
            return self.tuning.idle_poll_s
        try:
            await self._periodic(client)
            _, full = await self.push_once(client)
        except CloudUnavailable as exc:
            return await self._failed(str(exc))
        except CloudRefused as exc:
            return await self._failed(str(exc))
        self.failures = 0
        return 0.0 if full else self.tuning.idle_poll_s

    async def _current_client(self) -> CloudClient | None:
        async with self._sessions.begin() as session:
            row = await state_row(session)
            if row.mode != "on" or row.secret_sealed is None or row.cloud_url is None:
                return None
            credential = (row.cloud_url, self._box.open(row.secret_sealed), row.cloud_fingerprint)
        if credential != self._credential:
            await self.close()
            self._client = CloudClient(*credential)
            self._credential = credential
        return self._client

    async def _failed(self, message: str) -> float:
        self.failures += 1
        async with self._sessions.begin() as session:
            row = await state_row(session)
            row.last_error = message[:1000]
            row.last_error_at = utcnow()
        delay = backoff_delay(self.failures, self.tuning.backoff_base_s, self.tuning.backoff_max_s)
        logger.warning("cloud push failed; retrying", extra={"error": message, "retry_in_s": round(delay, 2),
                                                             "failures": self.failures})
        return delay

    async def push_once(self, client: CloudClient) -> tuple[int, bool]:
        """Send the oldest items (a run of non-clip items, or one clip); return (sent, batch was full)."""
        async with self._sessions() as session:
            items = list((await session.scalars(
                select(OutboxItem).order_by(OutboxItem.seq).limit(self.tuning.batch_size))).all())
        if not items:
            return 0, False
        if items[0].kind == "clip":
            wire = [await self._upload_clip(client, items[0])]
            done = [items[0].seq]
        else:
            run = []
            for item in items:
                if item.kind == "clip":
                    break
                run.append(item)
            wire = [_wire(item, await self._with_snapshot(client, item)) for item in run]
            done = [item.seq for item in run]
        await client.ingest(IngestBatch(items=wire))
        async with self._sessions.begin() as session:
            # One transaction: the backlog and the counters never disagree.
            await session.execute(delete(OutboxItem).where(OutboxItem.seq.in_(done)))
            row = await state_row(session)
            row.last_success_at = utcnow()
            row.pushed_total += len(done)
            row.last_error = None
        return len(done), len(items) == self.tuning.batch_size or len(done) < len(items)

    async def _upload_clip(self, client: CloudClient, item: OutboxItem) -> IngestItem:
        payload = dict(item.payload)
        path = Path(str(payload.pop("path", "")))
        stat = await asyncio.to_thread(_stat_blocking, path)
        if stat is None:
            logger.error("clip file missing; sending its record without video",
                         extra={"camera_id": str(item.camera_id), "path": str(path)})
            return _wire(item, {**payload, "clip_id": None, "missing": True})
        size = stat
        digest = await asyncio.to_thread(file_sha256_blocking, path)
        start = ClipStart(key=item.key, size=size, sha256=digest, camera_id=item.camera_id,
                          content_type=str(payload.get("content_type", "video/mp4")),
                          event_id=payload.get("event_id"), start=payload.get("start"), end=payload.get("end"))
        rate = float(self.cloud_settings.get("clip_bytes_per_s", self.tuning.clip_bytes_per_s))
        state = await client.upload_clip(path, start, self.tuning.clip_chunk_bytes, RateLimit(rate))
        return _wire(item, {**payload, "clip_id": str(state.clip_id), "size": size, "sha256": digest})

    async def _with_snapshot(self, client: CloudClient, item: OutboxItem) -> dict[str, Any]:
        """An event's first item carries its snapshot along: the JPEG is uploaded (idempotent on its key)
        and the item names the cloud copy, so HQ sees the picture with the event."""
        payload = item.payload
        if item.kind != "event" or not payload.get("snapshot_url") or not item.key.endswith(":NEW"):
            return payload
        try:
            event_id = uuid.UUID(str(payload.get("id")))
        except ValueError:
            return payload
        async with self._sessions() as session:
            path = await session.scalar(select(Event.snapshot_path).where(Event.id == event_id))
        size = await asyncio.to_thread(_stat_blocking, Path(path)) if path else None
        if not path or size is None:
            return payload
        digest = await asyncio.to_thread(file_sha256_blocking, Path(path))
        start = ClipStart(key=f"snapshot:{payload['id']}", size=size, sha256=digest, camera_id=item.camera_id,
                          content_type="image/jpeg", event_id=event_id)
        state = await client.upload_clip(Path(path), start, self.tuning.clip_chunk_bytes, RateLimit(0))
        return {**payload, "cloud_snapshot_id": str(state.clip_id)}

    async def _periodic(self, client: CloudClient) -> None:
        now = time.monotonic()
        if now >= self._next_heartbeat:
            await client.heartbeat(await self._heartbeat())
            self._next_heartbeat = now + self.tuning.heartbeat_s
        if now >= self._next_pull:
            self.cloud_settings = await self._pull(client)
            self._next_pull = now + self.tuning.pull_s
        if self._actions is not None and now >= self._next_actions:
            # Before the push, so the changes the actions make go up in this same round. A backend that refuses
            # the way down (one older than it) must not stop the way up.
            self._next_actions = now + self.tuning.actions_s
            try:
                await self._actions(client)
            except CloudRefused as exc:
                logger.warning("cloud refused HQ actions; pushing anyway", extra={"error": str(exc)})


def _wire(item: OutboxItem, payload: dict[str, Any]) -> IngestItem:
    return IngestItem(key=item.key, kind=item.kind, seq=item.seq, camera_id=item.camera_id,
                      queued_at=item.created_at, payload=payload)


def _stat_blocking(path: Path) -> int | None:
    """The file's size, or None when it is not a regular file."""
    return path.stat().st_size if path.is_file() else None


async def cloudsync_context(app: web.Application) -> AsyncIterator[None]:
    """Runs after the database and secrets; the task idles while sync is off."""
    tuning = app[keys.SETTINGS].cloud_sync
    hub = app[HUB]
    applier = ActionApplier(app[keys.SESSIONS], lambda kind, data, site: hub.publish(kind, data, site_id=site))
    pusher = Pusher(app[keys.SESSIONS], app[keys.SECRET_BOX], tuning,
                    heartbeat=functools.partial(sync_health.heartbeat, app, __version__),
                    pull=functools.partial(sync_health.pull, app), actions=applier.sync)
    app[CLOUD_SYNC] = pusher
    app[keys.HEALTH_PROBES].append(observe.health_probe)
    pusher.gauges = functools.partial(observe.SyncGauges(app[METRICS].registry).refresh, app)
    task = asyncio.create_task(pusher.run(), name="cloud-sync")
    yield
    await cancel_and_wait([task])  # its wait_for can absorb one cancel (Python 3.11)
    await pusher.close()
