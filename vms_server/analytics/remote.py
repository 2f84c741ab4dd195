"""Models run by `vms-server worker` processes: what crosses Redis between them and the server.

A model listed in `analytics.remote_models` gets no worker pool in the server. Its jobs go to the Redis Streams
queue as every job does; a worker process (`vms_server.analytics.worker_process`, on this machine or another)
takes them from the model's consumer group, runs the model and adds what it found to one results stream. The
server reads that stream and treats each result as if its own pool had produced it (quality check, detection
listeners, the event feed), so events, correlation and rules stay in one place, the server.

Why this split: a model that crashes (a native library, a bad model file) or hogs the CPU takes down its own
process, not recording; a busy model scales by starting more workers; the worker needs Redis only, not the
database, so it can run on a GPU box next to the server. Per-camera configuration reaches workers through a
Redis hash the server keeps (`config_key`). A worker adds a result and acknowledges its job in one step; one
killed mid-job did neither: after `analytics.claim_idle_s` its partitions of the queue go to the live workers,
which analyse its unfinished jobs first (`vms_server.analytics.partitions`), and the server opens an incident
for the worker that vanished without saying goodbye.

A camera's jobs stay with one worker of a model (its partition's holder) until the workers change, so the
results of a camera come in sequence order and stateful models (trackers) keep their state; when a partition
moves to another worker, the camera's state starts afresh there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import redis.asyncio as aioredis

from vms_common.aio import cancel_and_wait
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.queues import Delivery
from vms_server.analytics.types import Detection, Image, Priority
from vms_server.analytics.workers import JobResult
from vms_server.watchdog.incidents import Draft, IncidentType, Severity

logger = logging.getLogger(__name__)

RESULTS_STREAM = "vms:analytics:results"
RESULTS_GROUP = "server"
WORKER_PREFIX = "vms:analytics:worker:"
BYE_PREFIX = "vms:analytics:bye:"
WORKER_TTL_S = 6.0  # a worker refreshes its key every third of this


def config_key(model: str) -> str:
    """The hash of camera id -> the camera's configuration of `model` as JSON, written by the server."""
    return f"vms:analytics:config:{model}"


# --- the wire format of a result -----------------------------------------------------------------------
def encode_result(result: JobResult) -> dict[str, bytes]:
    """A result as stream fields: the job's header (its frames stay behind), the detections, and each frame a
    detection points at as a JPEG (the event's snapshot is taken from it)."""
    d = result.delivery
    header = VideoJob(d.job.job_id, d.job.customer_id, d.job.camera_id, d.job.segment_sequence, d.job.timestamp,
                      d.job.metadata, None, b"").to_bytes()
    frames: dict[int, Image] = {}
    detections = []
    for det in result.detections:
        ref = None
        if det.frame is not None:
            ref = next((k for k, img in frames.items() if img is det.frame), None)
            if ref is None:
                ref = len(frames)
                frames[ref] = det.frame
        detections.append({
            "model": det.model, "event_type": det.event_type, "ts": det.ts, "confidence": det.confidence,
            "box": list(det.box) if det.box is not None else None, "object_class": det.object_class,
            "tracking_id": str(det.tracking_id) if det.tracking_id else None, "key": det.key,
            "details": det.details, "frame": ref, "warning": det.warning})
    fields = {"job": header, "model": d.model.encode(), "priority": d.priority.value.encode(),
              "queued_ms": repr(result.queued_ms).encode(), "run_ms": repr(result.run_ms).encode(),
              "ok": b"1" if result.ok else b"0",
              "detections": json.dumps(detections, default=str).encode()}
    for ref, image in frames.items():
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
        if ok:
            fields[f"frame:{ref}"] = buf.tobytes()
    return fields


def decode_result(fields: dict[bytes, bytes]) -> JobResult:
    """Inverse of :func:`encode_result`. Raises ValueError on a malformed message."""
    try:
        job = VideoJob.from_bytes(fields[b"job"])
        model = fields[b"model"].decode()
        priority = Priority(fields[b"priority"].decode())
        frames: dict[int, Image] = {}
        detections = []
        for raw in json.loads(fields[b"detections"]):
            ref = raw.pop("frame")
            if ref is not None and ref not in frames and (jpeg := fields.get(f"frame:{ref}".encode())):
                bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
                if bgr is not None:
                    frames[ref] = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.uint8)
            box = raw.pop("box")
            tracking = raw.pop("tracking_id")
            detections.append(Detection(**raw, box=tuple(box) if box else None,
                                        tracking_id=uuid.UUID(tracking) if tracking else None,
                                        frame=frames.get(ref) if ref is not None else None))
        delivery = Delivery(job, model, priority, "", 1, job.enqueued_at)
        return JobResult(delivery, detections, float(fields[b"queued_ms"]), float(fields[b"run_ms"]),
                         fields[b"ok"] == b"1")
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
        raise ValueError(f"malformed result message: {exc}") from exc


@dataclass(frozen=True)
class WorkerInfo:
    consumer: str
    models: list[str]
    host: str
    pid: int


# --- the server side -----------------------------------------------------------------------------------
class RemoteModels:
    """The server's half: publishes camera configurations, feeds results in, watches the worker processes."""

    def __init__(self, url: str, models: list[str], on_result: Callable[[JobResult], Awaitable[None]],
                 report: Callable[[Draft], Awaitable[object]] | None,
                 resolve: Callable[[str, str], Awaitable[object]] | None, *, node: str, grace_s: float = 30.0) -> None:
        """`report` opens an incident, `resolve(fingerprint, text)` closes one (the watchdog's incident
        service); `grace_s`: how long after start a model may have no worker before that is an incident."""
        self.redis: aioredis.Redis = aioredis.Redis.from_url(url)
        self.models = list(models)
        self.on_result = on_result
        self.report, self.resolve = report, resolve
        self.node = node
        self.grace_s = grace_s
        self.received = 0
        self.malformed = 0
        self.workers: dict[str, WorkerInfo] = {}
        self._open: set[str] = set()
        self._started = time.monotonic()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def stats(self) -> dict[str, object]:
        return {"models": self.models, "results": self.received, "malformed": self.malformed,
                "workers": [w.__dict__ for w in self.workers.values()]}

    async def start(self) -> None:
        try:
            await self.redis.xgroup_create(RESULTS_STREAM, RESULTS_GROUP, id="0", mkstream=True)
        except aioredis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._started = time.monotonic()
        self._tasks = [asyncio.create_task(self._consume(), name="analytics-remote-results"),
                       asyncio.create_task(self._watch(), name="analytics-remote-workers")]

    async def stop(self) -> None:
        # Cancelled until they end: a cancellation that lands inside a Redis call was seen absorbed there (the
        # watcher went on to its next sleep and a single cancel-and-gather waited forever).
        await cancel_and_wait(self._tasks)
        self._tasks = []
        await self.redis.aclose()

    async def publish(self, model: str, configs: dict[uuid.UUID, dict[str, Any]]) -> None:
        """The cameras `model` runs on and their configuration; cameras no longer listed are removed."""
        key = config_key(model)
        wanted = {str(c): json.dumps(cfg, sort_keys=True, default=str) for c, cfg in configs.items()}
        keys: list[Any] = await self.redis.hkeys(key)
        present = {k.decode() if isinstance(k, bytes) else str(k) for k in keys}
        async with self.redis.pipeline(transaction=True) as pipe:
            if present - wanted.keys():
                pipe.hdel(key, *(present - wanted.keys()))
            if wanted:
                pipe.hset(key, mapping=wanted)  # type: ignore[arg-type]
            await pipe.execute()

    async def _consume(self) -> None:
        consumer = f"{self.node}-results"
        while True:
            try:
                # Results this node took but had not finished when it stopped come first, then new ones.
                res: Any = await self.redis.xreadgroup(RESULTS_GROUP, consumer, {RESULTS_STREAM: "0"}, count=32)
                if not res or not res[0][1]:
                    res = await self.redis.xreadgroup(RESULTS_GROUP, consumer, {RESULTS_STREAM: ">"}, count=32,
                                                      block=1000)
                for _, messages in res or []:
                    for msg_id, fields in messages:
                        await self._handle(fields)
                        await self.redis.xack(RESULTS_STREAM, RESULTS_GROUP, msg_id)
                        await self.redis.xdel(RESULTS_STREAM, msg_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # a Redis hiccup must not end the consumer
                logger.warning("reading model workers' results failed; retrying", exc_info=True)
                await asyncio.sleep(1.0)

    async def _handle(self, fields: dict[bytes, bytes]) -> None:
        try:
            result = decode_result(fields)
        except ValueError:
            self.malformed += 1
            logger.warning("a model worker's result could not be read; dropped")
            return
        self.received += 1
        try:
            await self.on_result(result)
        except Exception:
            logger.exception("a model worker's result could not be handled")

    async def live_workers(self) -> dict[str, WorkerInfo]:
        found: dict[str, WorkerInfo] = {}
        async for key in self.redis.scan_iter(match=f"{WORKER_PREFIX}*"):
            raw = await self.redis.get(key)
            if raw is None:
                continue
            info = json.loads(raw)
            found[info["consumer"]] = WorkerInfo(info["consumer"], info["models"], info["host"], info["pid"])
        return found

    async def _watch(self) -> None:
        while True:
            try:
                await self.check_workers()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("checking model workers failed", exc_info=True)
            await asyncio.sleep(1.0)

    async def check_workers(self) -> None:
        """Incidents for a worker that vanished without a goodbye (killed, crashed, its machine gone) and for
        a model no live worker runs; both resolved once a worker for the model is back."""
        live = await self.live_workers()
        for consumer in [c for c in self.workers if c not in live]:
            gone = self.workers.pop(consumer)
            if await self.redis.exists(f"{BYE_PREFIX}{consumer}"):
                logger.info("model worker %s stopped cleanly", consumer)
                continue
            for model in gone.models:
                await self._incident(model, f"worker:{consumer}", Severity.HIGH,
                                     f"model worker {consumer} (pid {gone.pid} on {gone.host}) running {model} "
                                     "stopped without shutting down; its unfinished jobs are redelivered")
        self.workers.update(live)
        served = {m for w in live.values() for m in w.models}
        for model in self.models:
            if model in served:
                for fp in [f for f in self._open if f.split("|")[1] == model]:
                    if self.resolve is not None:
                        await self.resolve(fp, f"a worker process runs {model} again")
                    self._open.discard(fp)
            elif time.monotonic() - self._started > self.grace_s:
                await self._incident(model, "no-worker", Severity.HIGH,
                                     f"no worker process runs {model}; its jobs wait in the queue "
                                     f"(start `vms-server worker --models {model}`)")

    async def _incident(self, model: str, what: str, severity: Severity, message: str) -> None:
        draft = Draft(IncidentType.SERVICE_FAILURE, severity, 0, 1, "workers", message, model=model,
                      service=f"analytics-worker:{what}")
        if draft.fingerprint in self._open:
            return
        logger.warning("%s", message)
        if self.report is not None:
            await self.report(draft)
        self._open.add(draft.fingerprint)
