"""One camera's analytics front end: source -> normaliser -> segmenter, on its own thread. Finished jobs are
handed to the event loop (the only crossing), together with the live stream quality for runtime checks."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from vms_server.analytics.jobs import SourceQuality, VideoJob
from vms_server.analytics.normaliser import FrameSource, Normaliser
from vms_server.analytics.segmenter import Segmenter, Window

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraPlan:
    """What analytics a camera runs and where its picture comes from."""

    camera_id: uuid.UUID
    customer_id: uuid.UUID
    site_id: uuid.UUID
    name: str
    url: str  # may contain credentials: never log it
    windows: dict[str, Window]
    declared: SourceQuality | None = None
    size: tuple[int, int, float] | None = None  # width, height, fps for this camera (None: node default)


class CameraPipeline:
    def __init__(self, plan: CameraPlan, source: FrameSource, loop: asyncio.AbstractEventLoop,
                 submit: Callable[[VideoJob], None], *, width: int, height: int, fps: float, nice: int = 0) -> None:
        self.plan = plan
        self.source = source
        self.segmenter = Segmenter(plan.customer_id, plan.camera_id, plan.windows, self._emit, self.quality,
                                   frame_interval_s=1.0 / fps)
        self.normaliser = Normaliser(source, self.segmenter.push, width=width, height=height, fps=fps,
                                     name=plan.name, on_error=self._failed, nice=nice)
        self._loop = loop
        self._submit = submit
        self.jobs = 0
        self.error: str | None = None

    def quality(self) -> SourceQuality | None:
        live = self.source.quality
        if live is not None and live.bitrate_kbps <= 0 and self.plan.declared is not None:
            # Containers often do not know the bitrate of a live stream; fall back to the declared one.
            return SourceQuality(live.width, live.height, self.plan.declared.bitrate_kbps, live.fps, live.codec)
        return live or self.plan.declared

    def _emit(self, job: VideoJob) -> None:
        self.jobs += 1
        self._loop.call_soon_threadsafe(self._submit, job)

    def _failed(self, exc: BaseException) -> None:
        self.error = str(exc)
        logger.warning("analytics stream stopped: %s", exc, extra={"camera_id": str(self.plan.camera_id)})

    def start(self) -> None:
        self.normaliser.start()

    async def stop(self) -> None:
        await asyncio.to_thread(self.normaliser.stop_blocking)

    def stats(self) -> dict[str, object]:
        lat = self.normaliser.latency
        return {"camera_id": str(self.plan.camera_id), "frames_in": self.normaliser.frames_in,
                "frames_out": self.normaliser.frames_out, "jobs": self.jobs,
                "latency_ms_p50": _ms(lat.percentile(50)), "latency_ms_p95": _ms(lat.percentile(95)),
                "time_source": "ntp" if self.normaliser.ntp else "server", "error": self.error,
                "decode": str(getattr(self.source, "decode_path", "software"))}


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)
