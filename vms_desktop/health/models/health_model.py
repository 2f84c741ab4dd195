"""The health view's data: the server's components (/health/detailed), each camera's streams
(/cameras/{id}/status) and the watchdog's incidents, read through the admin client layer and kept as typed rows."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from vms_desktop.admin.models.admin_api import AdminApi, CameraRow
from vms_desktop.client.api import ClientError

logger = logging.getLogger(__name__)
STATUS_CONCURRENCY = 8  # camera status calls at once


@dataclass(frozen=True)
class CameraHealth:
    camera_id: str
    name: str
    enabled: bool
    state: str  # the main stream's: online, offline, connecting...; "disabled" or "unknown"
    reason: str
    fps: float
    bitrate_kbps: float
    packet_loss: int | None
    reconnects: int
    recording: bool

    @classmethod
    def from_status(cls, camera: CameraRow, status: dict[str, Any] | None) -> CameraHealth:
        streams = (status or {}).get("streams", [])
        main = next((s for s in streams if s.get("role") == "main"), streams[0] if streams else {})
        state = "disabled" if not camera.enabled else str(main.get("state", "unknown"))
        return cls(camera_id=camera.id, name=camera.name, enabled=camera.enabled, state=state,
                   reason=str(main.get("reason") or (status or {}).get("recording_error") or ""),
                   fps=float(main.get("fps") or 0), bitrate_kbps=float(main.get("bitrate_kbps") or 0),
                   packet_loss=main.get("packet_loss"), reconnects=int(main.get("reconnects") or 0),
                   recording=bool((status or {}).get("recording")))


@dataclass(frozen=True)
class Component:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class ServiceRow:
    """A line of the services table: a watched service, an analytics queue or an analytics model."""

    kind: str  # service | queue | model
    name: str
    state: str
    detail: str
    ok: bool


def service_rows(status: dict[str, Any]) -> list[ServiceRow]:
    """The watchdog's report as table rows: what is stalled, shedding or outside its SLA reads so."""
    rows = [ServiceRow("service", str(s.get("name")), str(s.get("state")),
                       f"silent {float(s.get('silent_s') or 0):.0f} s, {s.get('restarts', 0)} restart(s)"
                       + (f", {s['last_error']}" if s.get("last_error") else ""),
                       s.get("state") in ("ok", "passive")) for s in status.get("services", [])]
    rows += [ServiceRow("queue", str(q.get("name")), "shedding" if q.get("shedding") else "ok",
                        f"{q.get('depth', 0)} of {q.get('capacity', 0)} queued, lag {float(q.get('lag_s') or 0):.1f} s,"
                        f" {q.get('shed_jobs', 0)} shed", not q.get("shedding")) for q in status.get("queues", [])]
    rows += [ServiceRow("model", str(m.get("model")), "within SLA" if m.get("within_sla") else "outside SLA",
                        f"{m.get('jobs', 0)} jobs, p95 {float(m.get('p95_ms') or 0):.0f} ms of "
                        f"{float(m.get('sla_response_ms') or 0):.0f}, availability "
                        f"{100 * float(m.get('availability') or 0):.1f} %", bool(m.get("within_sla")))
             for m in status.get("models", [])]
    return rows


@dataclass(frozen=True)
class HealthSnapshot:
    status: str
    version: str
    components: tuple[Component, ...]
    cameras: tuple[CameraHealth, ...]
    incidents: tuple[dict[str, Any], ...]
    services: tuple[ServiceRow, ...] = ()

    @property
    def online(self) -> int:
        return sum(1 for c in self.cameras if c.state == "online")


async def load_snapshot(api: AdminApi) -> HealthSnapshot:
    """Everything the health view shows. Parts the user may not read (the detailed report needs a
    supervisor) come back empty instead of failing the whole view; a ClientError of the camera list is raised."""
    cameras = await api.cameras()
    limit = asyncio.Semaphore(STATUS_CONCURRENCY)

    async def status(camera: CameraRow) -> CameraHealth:
        async with limit:
            try:
                return CameraHealth.from_status(camera, await api.camera_status(camera.id))
            except ClientError:
                return CameraHealth.from_status(camera, None)

    rows = await asyncio.gather(*(status(c) for c in cameras))
    try:
        report = await api.health()
    except ClientError as exc:
        report = {"status": "unknown", "version": "", "components": [
            {"name": "server", "ok": False, "detail": exc.message}]}
    try:
        incidents = await api.incidents()
    except ClientError:
        incidents = []
    try:
        services = service_rows(await api.watchdog_status())
    except ClientError:
        services = []
    components = tuple(Component(str(c.get("name")), bool(c.get("ok")), str(c.get("detail", "")))
                       for c in report.get("components", []))
    return HealthSnapshot(status=str(report.get("status", "")), version=str(report.get("version", "")),
                          components=components, cameras=tuple(sorted(rows, key=lambda c: c.name.lower())),
                          incidents=tuple(incidents), services=tuple(services))
