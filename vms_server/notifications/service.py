"""The notification service: takes new events from the EventSink, routes them into the durable queue, and
runs the delivery worker (due messages, escalations). Started by `notifications_context` after analytics.

Shutdown finishes the sends in flight instead of cancelling them mid-delivery, so a normal restart never
leaves a message that went out still marked SENDING (which would send it again after the lease)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_common.aio import cancel_and_wait
from vms_common.db.base import utcnow
from vms_server import keys
from vms_server.api.keys import HUB
from vms_server.cameras.models import Camera
from vms_server.config.keys import CONFIG
from vms_server.config.service import ConfigService
from vms_server.events.keys import EVENTS
from vms_server.events.models import Event
from vms_server.events.sink import CreatedEvent
from vms_server.ingest.keys import INGEST
from vms_server.notifications import channels as registry
from vms_server.notifications import escalation, mirror, queue
from vms_server.notifications.availability import AvailabilityWatch
from vms_server.notifications.channels.base import Channel, ChannelError
from vms_server.notifications.channels.ticket import TicketChannel
from vms_server.notifications.keys import NOTIFIER
from vms_server.notifications.models import NotifyChannel, NotifyMessage, NotifyRouted
from vms_server.notifications.render import read_snapshot_blocking, render
from vms_server.notifications.routing import load_context, route_event
from vms_server.notifications.settings import NotificationSettings
from vms_server.security.keystore import SecretBox
from vms_server.tickets.schemas import TicketOut
from vms_server.tickets.service import open_for_event

logger = logging.getLogger(__name__)


class NotificationService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox, config: ConfigService,
                 settings: NotificationSettings) -> None:
        self._sessions, self._box, self._config, self.settings = sessions, box, config, settings
        self._events: asyncio.Queue[uuid.UUID | None] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._stopping = False
        self._stopped = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._channels: dict[uuid.UUID, tuple[dt.datetime, Channel]] = {}
        self.routed = 0  # events routed (benchmarks, metrics)
        self.sent = 0
        # Told of a ticket an escalation opened (its API form, the event's site), so consoles show "assigned"
        # at once as they do for one an operator opened; set by the context to the hub's publish.
        self.ticket_opened: Callable[[dict[str, Any], uuid.UUID], object] | None = None

    # --- input ------------------------------------------------------------------------------------------
    def on_event(self, created: CreatedEvent) -> None:
        """EventSink subscriber: never blocks, the routing happens on the service's own task."""
        self._events.put_nowait(created.event_id)

    def wake(self) -> None:
        self._wake.set()

    async def route(self, event_ids: list[uuid.UUID]) -> int:
        """Queue the messages for stored events, in one transaction (idempotent: dedup keys)."""
        queued = 0
        async with self._sessions.begin() as session:
            done = set((await session.scalars(select(NotifyRouted.event_id).where(
                NotifyRouted.event_id.in_(event_ids)))).all())
            for event_id in dict.fromkeys(event_ids):
                if event_id in done:
                    continue  # routed before a restart: its messages exist (or were folded into a group)
                ctx = await load_context(session, self._config, event_id, self.settings.event_url)
                if ctx is not None:
                    queued += await route_event(session, ctx, self.settings.minute_s)
                    session.add(NotifyRouted(event_id=event_id))
        self.routed += len(event_ids)
        if queued:
            self.wake()
        return queued

    # --- running ----------------------------------------------------------------------------------------
    async def catch_up(self) -> int:
        """Queue for routing the recent events nobody routed (stored while the server stopped or crashed
        between storing and routing); returns how many."""
        since = utcnow() - dt.timedelta(seconds=self.settings.catch_up_s)
        async with self._sessions() as session:
            ids = (await session.scalars(select(Event.id).where(
                Event.created_at >= since, ~exists().where(NotifyRouted.event_id == Event.id))
                .order_by(Event.created_at).limit(10_000))).all()
        for event_id in ids:
            self._events.put_nowait(event_id)
        if ids:
            logger.info("routing %d event(s) stored before this start and not routed yet", len(ids))
        return len(ids)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._route_loop(), name="notify-router"),
                       asyncio.create_task(self._work_loop(), name="notify-worker")]
        if self.settings.remote_poll_s > 0:
            self._tasks.append(asyncio.create_task(self._mirror_loop(), name="notify-ticket-mirror"))

    async def _mirror_loop(self) -> None:
        """Read back the tickets opened in Jira and ServiceNow (mirror.py) until stopped."""
        while not self._stopping:
            try:
                await mirror.poll_once(self._sessions, self._channels_for, self.settings.send_timeout_s)
            except Exception:  # the database or a channel misbehaved this round; the next round tries again
                logger.exception("reading tickets back failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self.settings.remote_poll_s)

    async def stop(self) -> None:
        self._stopping = True
        self._stopped.set()
        self._events.put_nowait(None)
        self.wake()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for _, channel in self._channels.values():
            await channel.close()
        self._channels.clear()

    async def _route_loop(self) -> None:
        """Routes what has arrived in batches (one transaction each): a burst costs one commit, not hundreds."""
        while True:
            batch = [await self._events.get()]
            while not self._events.empty() and len(batch) < 200:
                batch.append(self._events.get_nowait())
            ids = [event_id for event_id in batch if event_id is not None]
            if ids:
                try:
                    await self.route(ids)
                except Exception:
                    await self._route_one_by_one(ids)
            if None in batch:
                return

    async def _route_one_by_one(self, ids: list[uuid.UUID]) -> None:
        """A batch failed: route each event alone so that one bad event does not cost the others."""
        for event_id in ids:
            try:
                await self.route([event_id])
            except Exception:
                logger.exception("routing event %s failed", event_id)

    async def _work_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_escalation = 0.0
        while not self._stopping:
            self._wake.clear()
            busy = False
            try:
                if loop.time() >= next_escalation:  # once per poll interval, however busy delivery is
                    next_escalation = loop.time() + self.settings.poll_interval_s
                    await escalation.run_due(self._sessions, self._config, minute_s=self.settings.minute_s,
                                             event_url=self.settings.event_url)
                busy = await self.deliver_due() > 0
            except Exception:
                logger.exception("notification worker round failed")
            if not busy and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval_s)

    async def deliver_due(self) -> int:
        """Claim and send one batch, then record every outcome in one transaction; returns how many were claimed.

        A stop waits for this to finish, so after a normal shutdown nothing that went out is still SENDING."""
        s = self.settings
        claimed = await queue.claim(self._sessions, s.batch, s.lease_s)
        if not claimed:
            return 0
        gate = asyncio.Semaphore(s.concurrency)
        channels = await self._channels_for({item.channel_id for item in claimed})

        async def one(item: queue.Claimed) -> queue.Outcome:
            async with gate:
                return await self._attempt(item, channels.get(item.channel_id))

        outcomes = list(await asyncio.gather(*(one(item) for item in claimed)))
        await self._record(outcomes)
        return len(claimed)

    async def _record(self, outcomes: list[queue.Outcome], *, once: bool = False) -> dict[uuid.UUID, str]:
        s = self.settings
        if once:  # a test send reports its outcome and is never retried
            outcomes = [queue.Outcome(o.message_id, o.error, o.error is not None, o.receipt) for o in outcomes]
        statuses = await queue.finish(self._sessions, outcomes, max_attempts=s.max_attempts,
                                      base_s=s.backoff_base_s, max_s=s.backoff_max_s)
        errors = {o.message_id: o.error for o in outcomes}
        for message_id, status in statuses.items():
            if status == queue.SENT:
                self.sent += 1
            elif status == queue.DEAD:
                logger.warning("message %s moved to the dead-letter list: %s", message_id, errors[message_id])
        return statuses

    async def _attempt(self, item: queue.Claimed, channel: Channel | None) -> queue.Outcome:
        """Send one claimed message; never raises (the outcome says what happened)."""
        s = self.settings
        try:
            if channel is None:
                raise ChannelError("channel deleted or disabled", permanent=True)
            snapshot = None
            if channel.kind == "email":
                snapshot = await asyncio.to_thread(read_snapshot_blocking, item.payload)
            outgoing = render(str(item.id), item.recipient, item.payload, item.count, snapshot, channel.templates)
            receipt = await asyncio.wait_for(channel.send(outgoing, s.send_timeout_s), s.send_timeout_s + 5)
            logger.debug("message %s delivered: %s", item.id, receipt)
            return queue.Outcome(item.id, receipt=receipt)
        except ChannelError as exc:
            return queue.Outcome(item.id, str(exc), exc.permanent)
        except registry.ChannelConfigError as exc:
            return queue.Outcome(item.id, str(exc), True)
        except Exception as exc:  # a bug in a channel must not stop the worker; the message is retried
            logger.exception("channel crashed delivering message %s", item.id)
            return queue.Outcome(item.id, f"{type(exc).__name__}: {exc}")

    async def _channels_for(self, ids: set[uuid.UUID]) -> dict[uuid.UUID, Channel]:
        """The enabled channels among `ids`, built once and reused until their row changes (kept connections)."""
        async with self._sessions() as session:
            rows = (await session.scalars(select(NotifyChannel).where(NotifyChannel.id.in_(ids)))).all()
        found: dict[uuid.UUID, Channel] = {}
        for row in rows:
            if not row.enabled:
                continue
            cached = self._channels.get(row.id)
            if cached is not None and cached[0] == row.updated_at:
                found[row.id] = cached[1]
                continue
            if cached is not None:
                await cached[1].close()
            try:
                secret = self._box.open(row.secret_sealed) if row.secret_sealed else None
                channel = registry.build(row.kind, row.config, secret)
            except Exception:
                logger.exception("channel %s cannot be built; its messages wait for a fix", row.id)
                continue
            if isinstance(channel, TicketChannel):
                channel.opener = self._open_ticket
            self._channels[row.id] = (row.updated_at, channel)
            found[row.id] = channel
        return found

    async def _open_ticket(self, event_id: uuid.UUID, title: str, description: str, assignee: str | None) -> str:
        async with self._sessions.begin() as session:
            event = await session.get(Event, event_id)
            if event is None:
                raise ChannelError("the event no longer exists", permanent=True)
            ticket, created = await open_for_event(session, event, title=title, description=description,
                                                   created_by="notifications", assignee=assignee)
            opened = TicketOut.model_validate(ticket, from_attributes=True).model_dump(mode="json")
            site_id = event.site_id
        if created and self.ticket_opened is not None:
            self.ticket_opened(opened, site_id)
        return f"ticket {opened['id']}" + ("" if created else " (already open)")

    async def camera_availability(self, customer_id: uuid.UUID, camera_id: uuid.UUID, *, online: bool) -> int:
        """Queue a camera's state for every enabled MQTT channel of its organisation (retained there)."""
        async with self._sessions.begin() as session:
            camera = await session.get(Camera, camera_id)
            rows = (await session.scalars(select(NotifyChannel).where(
                NotifyChannel.customer_id == customer_id, NotifyChannel.kind == "mqtt",
                NotifyChannel.enabled.is_(True)))).all()
            payload = {"type": "camera.availability", "camera_id": str(camera_id),
                       "camera_name": camera.name if camera else None, "state": "online" if online else "offline"}
            for row in rows:
                message_id = uuid.uuid4()
                session.add(NotifyMessage(id=message_id, customer_id=customer_id, channel_id=row.id,
                                          kind="availability", payload=payload, dedup_key=f"avail:{message_id}"))
        if rows:
            self.wake()
        return len(rows)

    # --- API helpers ------------------------------------------------------------------------------------
    async def test_send(self, channel_id: uuid.UUID, customer_id: uuid.UUID, recipient: str) -> uuid.UUID:
        """Queue a test message and deliver it now; returns the message id (its row has the outcome)."""
        payload: dict[str, Any] = {"type": "test", "message": "Test message from the VMS notification service",
                                   "sent_at": dt.datetime.now(dt.UTC).isoformat()}
        message_id = uuid.uuid4()
        lease = dt.timedelta(seconds=self.settings.lease_s)
        async with self._sessions.begin() as session:
            session.add(NotifyMessage(id=message_id, customer_id=customer_id, channel_id=channel_id,
                                      recipient=recipient, kind="test", payload=payload,
                                      dedup_key=f"test:{message_id}", status=queue.SENDING,
                                      claimed_until=utcnow() + lease))
        channel = (await self._channels_for({channel_id})).get(channel_id)
        item = queue.Claimed(message_id, channel_id, recipient, payload, 1, 0)
        await self._record([await self._attempt(item, channel)], once=True)
        return message_id


async def notifications_context(app: web.Application) -> AsyncIterator[None]:
    """After analytics: subscribes to the EventSink, routes and delivers until shutdown."""
    settings = app[keys.SETTINGS].notifications
    service = NotificationService(app[keys.SESSIONS], app[keys.SECRET_BOX], app[CONFIG], settings)
    app[NOTIFIER] = service
    hub = app[HUB]
    service.ticket_opened = lambda ticket, site_id: hub.publish("ticket.updated", ticket, site_id=site_id)
    watch: asyncio.Task[None] | None = None
    if settings.enabled:
        app[EVENTS].subscribe(service.on_event)
        app[EVENTS].subscribe_warnings(service.on_event)  # stream_degraded: camera health goes through the rules too
        await service.catch_up()
        service.start()
        ingest = app[INGEST]
        availability = AvailabilityWatch(lambda: ingest.runtimes,
                                         lambda c, cam, up: service.camera_availability(c, cam, online=up))
        watch = asyncio.create_task(availability.run(settings.availability_interval_s), name="notify-availability")
    yield
    await cancel_and_wait([watch])
    await service.stop()
