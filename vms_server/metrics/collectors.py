"""The metric families, on a registry per application (several apps in one process must not share counters).

Counters and histograms are fed as things happen (requests, job timings); gauges that describe state
(camera streams, queues, GPU, events, incidents) are refreshed just before each scrape.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess

import psutil
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy import func, select

from vms_server import keys
from vms_server.analytics import onnx_runtime
from vms_server.analytics.keys import ANALYTICS
from vms_server.config.keys import CONFIG
from vms_server.ingest.consumer_loss import consumer_drops
from vms_server.playback.keys import PLAYBACK
from vms_server.recording.keys import RECORDER
from vms_server.watchdog.keys import WATCHDOG
from vms_server.watchdog.timings import JobTiming

logger = logging.getLogger(__name__)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)


class AppMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=r)
        self.requests = Counter("vms_http_requests", "HTTP requests", ["method", "route", "status"], registry=r)
        self.errors = Counter("vms_http_errors", "HTTP responses with status >= 400",
                              ["route", "status_class"], registry=r)
        self.latency = Histogram("vms_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.model_latency = Histogram("vms_model_response_seconds", "Analytics job response (queued + run)",
                                       ["model", "priority"], buckets=LATENCY_BUCKETS, registry=r)
        self.model_run = Histogram("vms_model_run_seconds", "Analytics job run time", ["model"],
                                   buckets=LATENCY_BUCKETS, registry=r)
        self.model_jobs = Counter("vms_model_jobs", "Analytics jobs finished", ["model", "ok"], registry=r)
        self.camera_fps = Gauge("vms_camera_fps", "Received frames per second", ["camera_id", "stream"], registry=r)
        self.camera_kbps = Gauge("vms_camera_bitrate_kbps", "Received bitrate", ["camera_id", "stream"], registry=r)
        self.camera_reconnects = Gauge("vms_camera_reconnects", "Reconnects since start", ["camera_id", "stream"],
                                       registry=r)
        self.camera_up = Gauge("vms_camera_online", "1 when the stream is online", ["camera_id", "stream"],
                               registry=r)
        self.camera_frames = Gauge("vms_camera_frames", "Main-stream frames since start: received, written, "
                                   "lost_upstream (never received), lost_writing (not recorded)",
                                   ["camera_id", "kind"], registry=r)
        self.consumer_drops = Gauge("vms_camera_consumer_dropped", "Dropped by consumers that fell behind "
                                    "(analytics), since start: gops (backlogs dropped), frames (pictures in them)",
                                    ["camera_id", "kind"], registry=r)
        self.queue_depth = Gauge("vms_queue_depth", "Jobs waiting", ["queue"], registry=r)
        self.queue_lag = Gauge("vms_queue_lag_seconds", "Consumer lag", ["queue"], registry=r)
        self.queue_shed = Gauge("vms_queue_shed_jobs", "STANDARD jobs shed under pressure", ["queue"], registry=r)
        self.analytics_depth = Gauge("vms_analytics_queue_depth", "Analytics jobs waiting", ["model", "priority"],
                                     registry=r)
        self.analytics_dropped = Gauge("vms_analytics_jobs_dropped", "Analytics jobs dropped on overload",
                                       registry=r)
        self.analytics_decode = Gauge("vms_analytics_decode_cameras", "Cameras whose analytics stream is decoded "
                                      "on a hardware device (hw) or in software", ["decode"], registry=r)
        self.open_copy_fetches = Gauge("vms_cluster_open_segment_fetches", "Fetches of another node's open segment "
                                       "for playback here, since start: full (whole file) or tail (only what "
                                       "was added)", ["kind"], registry=r)
        self.open_copy_bytes = Gauge("vms_cluster_open_segment_fetched_bytes", "Bytes of those fetches",
                                     ["kind"], registry=r)
        self.gpu = Gauge("vms_gpu_utilisation_ratio", "GPU utilisation (nvidia-smi), 0..1", ["gpu"], registry=r)
        self.cpu = Gauge("vms_process_cpu_ratio", "Process CPU use (1 = one core)", registry=r)
        self.memory = Gauge("vms_process_memory_bytes", "Process resident memory", registry=r)
        self.events = Gauge("vms_events", "Stored events", ["event_type", "status"], registry=r)
        self.incidents = Gauge("vms_incidents_open", "Open incidents", ["incident_type"], registry=r)
        self.config_cache = Gauge("vms_config_cache_lookups", "Configuration cache lookups", ["result"], registry=r)
        labels = ["device", "model", "priority"]
        self.inference_calls = Gauge("vms_inference_calls", "Inference calls run on a device (since start)", labels,
                                     registry=r)
        self.inference_shed = Gauge("vms_inference_shed", "STANDARD inference calls refused by a saturated device",
                                    labels, registry=r)
        self.inference_delayed = Gauge("vms_inference_delayed", "Times a waiting call was passed over by a more "
                                       "urgent batch", labels, registry=r)
        self.inference_batches = Gauge("vms_inference_batches", "Batches run on a device", ["device"], registry=r)
        self.inference_rows = Gauge("vms_inference_batch_rows", "Frames (rows) run in those batches", ["device"],
                                    registry=r)
        self.inference_degraded = Gauge("vms_inference_on_cpu_fallback", "1 while a session configured for a GPU "
                                        "runs on the CPU", ["session", "device"], registry=r)
        self.inference_fallbacks = Gauge("vms_inference_fallbacks", "Runtime fallbacks of a session to the CPU",
                                         ["session", "device"], registry=r)
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # the first reading primes the counter

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
        if status >= 400:
            self.errors.labels(route, f"{status // 100}xx").inc()

    def observe_job(self, timing: JobTiming) -> None:
        self.model_latency.labels(timing.model, timing.priority).observe(timing.total_ms / 1000)
        self.model_run.labels(timing.model).observe(timing.run_ms / 1000)
        self.model_jobs.labels(timing.model, "true" if timing.ok else "false").inc()

    async def render(self, app: web.Application) -> bytes:
        """Refresh the state gauges and produce the exposition text.

        Called by GET /metrics, which aiohttp serves only once every context has started: each service is there."""
        for step in (self._cameras, self._queues, self._process_stats, self._config, self._inference,
                     self._open_copies):
            try:
                step(app)
            except Exception:
                logger.exception("metrics refresh step failed")
        for async_step in (self._gpu, self._events, self._analytics):
            try:
                await async_step(app)
            except Exception:
                logger.exception("metrics refresh step failed")
        return generate_latest(self.registry)

    def _inference(self, app: web.Application | None) -> None:
        """The process's inference sessions and device schedulers (batching, priority decisions, fallbacks)."""
        stats = onnx_runtime.SESSIONS.stats()
        for gauge in (self.inference_calls, self.inference_shed, self.inference_delayed, self.inference_batches,
                      self.inference_rows, self.inference_degraded, self.inference_fallbacks):
            gauge.clear()
        for device in stats["devices"]:
            self.inference_batches.labels(device["device"]).set(device["batches"])
            self.inference_rows.labels(device["device"]).set(device["rows"])
            for c in device["calls"]:
                labels = (device["device"], c["model"], c["priority"])
                self.inference_calls.labels(*labels).set(c["calls"])
                self.inference_shed.labels(*labels).set(c["shed"])
                self.inference_delayed.labels(*labels).set(c["delayed"])
        for session in stats["sessions"]:
            self.inference_degraded.labels(session["name"], session["device"]).set(1 if session["degraded"] else 0)
            self.inference_fallbacks.labels(session["name"], session["device"]).set(session["fallbacks"])

    def _cameras(self, app: web.Application) -> None:
        from vms_server.watchdog.health import cameras

        for gauge in (self.camera_fps, self.camera_kbps, self.camera_reconnects, self.camera_up):
            gauge.clear()
        for s in cameras(app):
            labels = (s["camera_id"], s["role"])
            self.camera_fps.labels(*labels).set(s.get("fps") or 0)
            self.camera_kbps.labels(*labels).set(s.get("bitrate_kbps") or 0)
            self.camera_reconnects.labels(*labels).set(s.get("reconnects") or 0)
            self.camera_up.labels(*labels).set(1 if s.get("state") == "online" else 0)
        self.camera_frames.clear()
        for camera_id, counts in app[RECORDER].frame_counts().items():
            for kind, count in counts.items():
                if kind != "lost":  # the sum of the two kinds
                    self.camera_frames.labels(str(camera_id), kind).set(count)
        self.consumer_drops.clear()
        ingest = app[RECORDER].ingest
        for camera_id in list(ingest.runtimes):
            for kind, count in consumer_drops(ingest.consumers(camera_id)).items():
                self.consumer_drops.labels(str(camera_id), kind).set(count)

    def _open_copies(self, app: web.Application) -> None:
        proxy = app[PLAYBACK].live_proxy
        if proxy is None:
            return
        for kind, count in proxy.open_copies.fetches.items():
            self.open_copy_fetches.labels(kind).set(count)
            self.open_copy_bytes.labels(kind).set(proxy.open_copies.bytes[kind])

    def _queues(self, app: web.Application) -> None:
        for q in app[WATCHDOG].shedder.queues.values():
            self.queue_depth.labels(q.name).set(q.depth)
            self.queue_lag.labels(q.name).set(q.lag_s)
            self.queue_shed.labels(q.name).set(q.shed_jobs)

    def _process_stats(self, app: web.Application) -> None:
        self.cpu.set(self._process.cpu_percent(None) / 100)
        self.memory.set(self._process.memory_info().rss)

    def _config(self, app: web.Application) -> None:
        service = app[CONFIG]
        self.config_cache.labels("hit").set(service.cache.hits)
        self.config_cache.labels("miss").set(service.cache.misses)

    async def _analytics(self, app: web.Application) -> None:
        analytics = app[ANALYTICS]
        self.analytics_depth.clear()
        for model, per_priority in (await analytics.queue.depth()).items():
            for priority, waiting in per_priority.items():
                self.analytics_depth.labels(model, priority).set(waiting)
        self.analytics_dropped.set(analytics.queue.dropped())
        paths = [str(getattr(p.source, "decode_path", "software")) for p in analytics.pipelines.values()]
        for kind in ("hw", "software"):
            self.analytics_decode.labels(kind).set(sum(1 for d in paths if d.startswith(kind)))

    async def _gpu(self, app: web.Application) -> None:
        readings = await asyncio.to_thread(gpu_utilisation_blocking)
        for index, value in readings.items():
            self.gpu.labels(str(index)).set(value)

    async def _events(self, app: web.Application) -> None:
        from vms_server.events.models import Event
        from vms_server.watchdog.models import Incident

        async with app[keys.SESSIONS]() as session:
            events = (await session.execute(select(Event.event_type, Event.status, func.count())
                                            .group_by(Event.event_type, Event.status))).all()
            open_incidents = (await session.execute(select(Incident.incident_type, func.count())
                                                    .where(Incident.state == "OPEN")
                                                    .group_by(Incident.incident_type))).all()
        self.events.clear()
        for event_type, status, count in events:
            self.events.labels(event_type, status).set(count)
        self.incidents.clear()
        for incident_type, count in open_incidents:
            self.incidents.labels(incident_type).set(count)


def gpu_utilisation_blocking() -> dict[int, float]:
    """Utilisation per NVIDIA GPU from nvidia-smi; empty where there is none (or no driver)."""
    binary = shutil.which("nvidia-smi")
    if binary is None:
        return {}
    try:
        command = [binary, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
        out = subprocess.run(command, capture_output=True, text=True, timeout=5, check=True).stdout  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return {}
    result: dict[int, float] = {}
    for index, line in enumerate(out.splitlines()):
        try:
            result[index] = float(line.strip()) / 100
        except ValueError:
            continue
    return result
