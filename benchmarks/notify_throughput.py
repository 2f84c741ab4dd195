"""Notification throughput: events/s routed and delivered per channel against local servers (a webhook
receiver, an aiosmtpd SMTP server, the Mosquitto broker on 127.0.0.1:1883), and the delay from the event being
announced to the message being received (p50/p95).

A real server app (SQLite, its cleanup contexts running, the worker polling as configured) routes events
announced the way the EventSink announces them; each channel gets its own rule and event type.
Usage: python -m benchmarks.notify_throughput [--events 1000] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import email
import email.policy
import json
import re
import socket
import tempfile
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiomqtt
from aiohttp import web
from aiosmtpd.controller import Controller

from benchmarks._common import free_port, percentile, print_table
from vms_server import keys
from vms_server.analytics.types import Priority
from vms_server.audit.service import SYSTEM
from vms_server.cameras.models import Camera
from vms_server.db.engine import create_engine
from vms_server.db.migrate import upgrade
from vms_server.events.service import NewEvent, create_event
from vms_server.events.sink import CreatedEvent
from vms_server.notifications.keys import NOTIFIER
from vms_server.notifications.models import NotifyChannel, NotifyRule
from vms_server.org.models import Customer, Site
from vms_server.security.keystore import create_master_secret
from vms_server.settings import load_settings

EVENT_ID = re.compile(r"/events/([0-9a-f-]{36})")


class Arrivals:
    """When each event's message arrived (perf_counter), from whichever server received it."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    def seen(self, event_id: str) -> None:
        self.at.setdefault(event_id, time.perf_counter())


class _Mail:
    def __init__(self, arrivals: Arrivals) -> None:
        self.arrivals = arrivals

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd hook)
        mail = email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)
        body = mail.get_body(preferencelist=("plain",)) if isinstance(mail, EmailMessage) else None
        found = EVENT_ID.search(body.get_content() if body is not None else "")
        if found:
            self.arrivals.seen(found.group(1))
        return "250 OK"


async def start_webhook(arrivals: Arrivals) -> tuple[web.AppRunner, int]:
    async def hook(request: web.Request) -> web.Response:
        arrivals.seen(json.loads(await request.read())["event_id"])
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def mqtt_listen(prefix: str, arrivals: Arrivals, ready: asyncio.Event) -> None:
    async with aiomqtt.Client("127.0.0.1", 1883) as client:
        await client.subscribe(f"{prefix}/events", qos=1)
        ready.set()
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b"{}"
            arrivals.seen(json.loads(payload)["event_id"])


def broker_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=1):
            return True
    except OSError:
        return False


async def start_app(workdir: Path) -> tuple[web.AppRunner, dict[str, uuid.UUID]]:
    from vms_server.app import create_app

    data = workdir / "data"
    data.mkdir()
    create_master_secret(data)
    url = f"sqlite+aiosqlite:///{data / 'vms.db'}"
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    settings = load_settings(None, data_dir=data, database={"url": url}, logging={"level": "WARNING"},
                             recording={"enabled": False},
                             notifications={"poll_interval_s": 0.05, "batch": 200, "concurrency": 16})
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    ids = {"customer": uuid.uuid4(), "site": uuid.uuid4(), "camera": uuid.uuid4()}
    async with app[keys.SESSIONS].begin() as session:
        session.add(Customer(id=ids["customer"], name="Bench"))
        await session.flush()
        session.add(Site(id=ids["site"], customer_id=ids["customer"], name="Site"))
        await session.flush()
        session.add(Camera(id=ids["camera"], customer_id=ids["customer"], site_id=ids["site"], name="Cam",
                           enabled=False))
    return runner, ids


async def run_channel(app: web.Application, ids: dict[str, uuid.UUID], kind: str, config: dict[str, Any],
                      recipients: list[str], arrivals: Arrivals, count: int) -> list[object]:
    event_type = f"bench_{kind}"
    async with app[keys.SESSIONS].begin() as session:
        channel = NotifyChannel(customer_id=ids["customer"], name=kind, kind=kind, config=config)
        session.add(channel)
        await session.flush()
        session.add(NotifyRule(customer_id=ids["customer"], name=kind, event_types=[event_type],
                               channel_ids=[str(channel.id)], recipients=recipients))
    announced: dict[str, float] = {}
    started = time.perf_counter()
    for _ in range(count):
        event_id = uuid.uuid4()
        now = dt.datetime.now(dt.UTC)
        new = NewEvent(event_id, ids["customer"], ids["camera"], ids["site"], event_type, "bench", 0.9, now, None,
                       None, None, Priority.HIGH, {}, None)
        async with app[keys.SESSIONS].begin() as session:
            await create_event(session, new, SYSTEM)
        announced[str(event_id)] = time.perf_counter()
        app[NOTIFIER].on_event(CreatedEvent(event_id, ids["camera"], event_type, now))
    announcing = time.perf_counter() - started
    deadline = time.perf_counter() + 120
    while sum(1 for e in announced if e in arrivals.at) < count:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{kind}: only {sum(1 for e in announced if e in arrivals.at)}/{count} arrived")
        await asyncio.sleep(0.01)
    elapsed = max(arrivals.at[e] for e in announced) - started
    delays = [(arrivals.at[e] - t) * 1000 for e, t in announced.items()]
    return [kind, count, count / announcing, count / elapsed, percentile(delays, 50), percentile(delays, 95)]


async def main(args: argparse.Namespace) -> None:
    count = 20 if args.smoke else args.events
    arrivals = Arrivals()
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        runner, ids = await start_app(Path(tmp))
        app = runner.app
        hook_runner, hook_port = await start_webhook(arrivals)
        smtp_port = free_port()
        smtp = Controller(_Mail(arrivals), hostname="127.0.0.1", port=smtp_port)
        smtp.start()
        listener: asyncio.Task[None] | None = None
        try:
            rows.append(await run_channel(app, ids, "webhook", {"url": f"http://127.0.0.1:{hook_port}/hook"}, [],
                                          arrivals, count))
            rows.append(await run_channel(app, ids, "email", {"host": "127.0.0.1", "port": smtp_port,
                                                              "security": "none", "from_addr": "vms@bench"},
                                          ["ops@bench"], arrivals, count))
            if broker_up():
                prefix, ready = f"vmsbench-{uuid.uuid4().hex[:8]}", asyncio.Event()
                listener = asyncio.create_task(mqtt_listen(prefix, arrivals, ready))
                await asyncio.wait_for(ready.wait(), 10)
                rows.append(await run_channel(app, ids, "mqtt", {"host": "127.0.0.1", "port": 1883,
                                                                 "prefix": prefix}, [], arrivals, count))
            else:
                rows.append(["mqtt", 0, "-", "no broker on 127.0.0.1:1883", "-", "-"])
        finally:
            if listener is not None:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)
            smtp.stop()
            await hook_runner.cleanup()
            await runner.cleanup()
    print_table(["channel", "events", "stored events/s", "delivered events/s", "p50 ms", "p95 ms"], rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="events per channel")
    parser.add_argument("--smoke", action="store_true", help="a short run for CI")
    asyncio.run(main(parser.parse_args()))
