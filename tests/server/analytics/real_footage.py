"""Real footage through the whole path, shared by the test and `benchmarks.real_footage_negatives`.

The simulator's `file` scene loops Debian opencv-doc's `vtest.avi` (people walking past a building: no fire,
nobody falls), re-encoded to H.264 and served over RTSP; a real server ingests it with fire_smoke, fallen and intrusion
enabled with their defaults, and the events are counted through the API. Fire and fallen events there are false
positives; intrusion (whole frame, 1 s dwell) must fire, because the people are real: it shows the person
detector works on this stream, so a quiet fallen model is not quiet only because it saw nobody.

The footage is read from the Debian path at run time and never copied into the repository (it comes with the
opencv-doc package, under OpenCV's licence terms as Debian ships them; its provenance is not recorded upstream).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.server.helpers import ApiClient
from vms_camsim.config import AuthMode, CameraConfig, SceneKind, StreamConfig
from vms_common.auth.roles import Role

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
# 4:3 like the 768x576 footage; 720 lines because fire_smoke needs 720p and 2 Mbit/s. 10 fps: the footage's own
# rate (a higher one would repeat frames, which hides flicker rather than tests it).
STREAM = StreamConfig(width=960, height=720, fps=10, bitrate_kbps=2500, gop_seconds=1.0)
NEGATIVE = ("fire_smoke", "fallen")  # model names; nothing in the footage is theirs to find
POSITIVE = "intrusion"
EVENT_TYPES = {"fire_smoke": "fire", "fallen": "fallen", "intrusion": "intrusion"}
JOB_S = 2.0  # analytics.segment_s of the runs: the tests' short jobs


def footage_camera(name: str, loop_s: int) -> CameraConfig:
    """A simulator camera that loops the first `loop_s` seconds of vtest.avi (the whole clip is 79 s)."""
    return CameraConfig(name=name, scene=SceneKind.FILE, video_file=VTEST, loop_seconds=loop_s, main=STREAM,
                        sub=None, auth=AuthMode.NONE)


@dataclass
class Watched:
    """What one run saw: the events per model in the watched span, its length, and the jobs each model ran."""

    seconds: float
    started: float  # wall-clock time of the first watched loop's start (the clip's first frame)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    jobs: dict[str, int] = field(default_factory=dict)


async def _settled(api: ApiClient, after: float, deadline: float) -> dict[str, Any]:
    """The analytics status once every frame stamped before `after` has been through the models: the time is
    past `after` plus a job's length and the camera's latency p95, and no job is queued. Raises at the deadline."""
    while time.time() < deadline:
        status = await api.ok("GET", "/api/v1/analytics/status", Role.VIEWER)
        lag = max([(c.get("latency_ms_p95") or 0.0) / 1000 for c in status["cameras"]], default=0.0)
        idle = not any(sum(per.values()) for per in status["depth"].values())
        if idle and time.time() > after + JOB_S + 3.0 + lag:
            return dict(status)
        await asyncio.sleep(0.5)
    raise TimeoutError("analytics did not catch up with the footage before the deadline")


def _ts(event: dict[str, Any]) -> float:
    return dt.datetime.fromisoformat(event["timestamp"]).timestamp()


async def watch(api: ApiClient, rtsp_url: str, loop_s: int, loops: int, catch_up_s: float = 180.0) -> Watched:
    """Add the camera, enable the three models just before a loop starts, watch `loops` loops and count the
    events that started in that span, by model."""
    body = {"name": "hall", "site_id": str(api.seeded.site_id), "streams": [
        {"role": "main", "rtsp_url": rtsp_url, "width": STREAM.width, "height": STREAM.height,
         "bitrate_kbps": STREAM.bitrate_kbps, "fps": STREAM.fps}]}
    camera = str((await api.ok("POST", "/api/v1/cameras", json=body, status=201))["id"])
    now = time.time()
    start = (now // loop_s + 1) * loop_s  # loops are aligned to the wall clock
    if start - now < 5:  # time for ingest to connect before the models start
        start += loop_s
    await asyncio.sleep(start - 1.0 - now)
    for model in (*NEGATIVE, POSITIVE):
        await api.ok("PUT", f"/api/v1/cameras/{camera}/analytics/{model}", json={"enabled": True})
    end = start + loops * loop_s
    await asyncio.sleep(max(0.0, end - time.time()))
    status = await _settled(api, end, end + catch_up_s)
    items = (await api.ok("GET", f"/api/v1/events?camera_id={camera}&limit=500", Role.VIEWER))["items"]
    watched = Watched(seconds=end - start, started=start)
    for model, event_type in EVENT_TYPES.items():
        watched.events[model] = [e for e in items if e["event_type"] == event_type and _ts(e) < end]
    for row in status["models"]:
        if row.get("model") in EVENT_TYPES:
            watched.jobs[row["model"]] = int(row.get("processed", 0))
    return watched
