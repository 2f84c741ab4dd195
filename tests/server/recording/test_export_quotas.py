"""A Viewer cannot fill the disk with exports (issue 20, finding 10): in-progress limit, kept-bytes quota,
identical exports reused, finished ones expire and can be deleted."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from tests.conftest import make_settings, seed
from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.app import create_app
from vms_server.recording.models import ExportJob, RecordingSegment

T0 = dt.datetime(2026, 1, 1, 8, tzinfo=dt.UTC)


async def _api(tmp_path: Path, db_url: str, aiohttp_client: Any) -> ApiClient:
    settings = make_settings(tmp_path / "data", db_url, recording={
        "export_max_active_per_user": 2, "export_quota_bytes_per_user": 1024**2, "export_retention_hours": 1})
    seeded = await seed(settings)
    return ApiClient(await aiohttp_client(create_app(settings)), seeded)


async def _camera(api: ApiClient) -> str:
    """A camera with footage indexed over the first half hour after T0 (an export of a range with nothing
    recorded is refused before any limit is looked at)."""
    cam = await api.ok("POST", "/api/v1/cameras", status=201, json={
        "name": "gate", "site_id": str(api.seeded.site_id), "enabled": False,
        "streams": [{"role": "main", "rtsp_url": "rtsp://10.0.0.5:554/main"}]})
    volume = api.client.app[keys.SETTINGS].data_dir / "recordings"
    (volume / "footage.mp4").write_bytes(b"\0" * 1000)
    async with api.client.app[keys.SESSIONS].begin() as session:
        session.add(RecordingSegment(camera_id=uuid.UUID(str(cam["id"])), stream="main", start_at=T0,
                                     end_at=T0 + dt.timedelta(minutes=30), duration_s=1800, frames=18000,
                                     bytes=1000, volume=str(volume), path="footage.mp4", codec="h264", width=320,
                                     height=240, reason="continuous"))
    return str(cam["id"])


async def _job(api: ApiClient, camera: str, minute: int, state: str, *, size: int | None = None,
               age_h: float = 0) -> uuid.UUID:
    """An export of the viewer's as the export worker leaves it (a real file for finished ones)."""
    job_id = uuid.uuid4()
    path = None
    if state == "done":
        path = api.client.app[keys.SETTINGS].data_dir / "exports" / f"{job_id}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * (size or 1))
    async with api.client.app[keys.SESSIONS].begin() as session:
        session.add(ExportJob(id=job_id, camera_id=uuid.UUID(camera), customer_id=api.seeded.customer_id,
                              site_id=api.seeded.site_id, stream="main", start_at=T0 + dt.timedelta(minutes=minute),
                              end_at=T0 + dt.timedelta(minutes=minute + 1), state=state, progress=0.0,
                              path=str(path) if path else None, bytes=size, created_by="viewer1",
                              created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=age_h)))
    return job_id


def _body(camera: str, minute: int) -> dict[str, str]:
    return {"camera_id": camera, "start": (T0 + dt.timedelta(minutes=minute)).isoformat(),
            "end": (T0 + dt.timedelta(minutes=minute + 1)).isoformat()}


async def test_exports_in_progress_are_limited_per_user(tmp_path: Path, db_url: str, aiohttp_client: Any) -> None:
    api = await _api(tmp_path, db_url, aiohttp_client)
    camera = await _camera(api)
    for minute in (0, 1):
        await _job(api, camera, minute, "running")
    resp = await api.call("POST", "/api/v1/exports", Role.VIEWER, json=_body(camera, 10))
    assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
    # Another user is not held up by the viewer's exports.
    await api.ok("POST", "/api/v1/exports", Role.SUPERVISOR, status=202, json=_body(camera, 11))


async def test_kept_bytes_are_limited_and_deleting_frees_them(tmp_path: Path, db_url: str,
                                                              aiohttp_client: Any) -> None:
    api = await _api(tmp_path, db_url, aiohttp_client)
    camera = await _camera(api)
    big = await _job(api, camera, 0, "done", size=1024**2)
    resp = await api.call("POST", "/api/v1/exports", Role.VIEWER, json=_body(camera, 10))
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "export_quota"
    await api.ok("DELETE", f"/api/v1/exports/{big}", Role.VIEWER, status=204)
    assert not (api.client.app[keys.SETTINGS].data_dir / "exports" / f"{big}.mp4").exists()
    assert (await api.ok("GET", f"/api/v1/exports/{big}", Role.VIEWER))["state"] == "expired"
    await api.ok("POST", "/api/v1/exports", Role.VIEWER, status=202, json=_body(camera, 10))


async def test_an_identical_export_is_handed_out_again(tmp_path: Path, db_url: str, aiohttp_client: Any) -> None:
    api = await _api(tmp_path, db_url, aiohttp_client)
    camera = await _camera(api)
    done = await _job(api, camera, 5, "done", size=10)
    for role in (Role.VIEWER, Role.SUPERVISOR):
        again = await api.ok("POST", "/api/v1/exports", role, status=202, json=_body(camera, 5))
        assert again["id"] == str(done) and again["state"] == "done"


async def test_finished_exports_expire(tmp_path: Path, db_url: str, aiohttp_client: Any) -> None:
    api = await _api(tmp_path, db_url, aiohttp_client)
    camera = await _camera(api)
    old = await _job(api, camera, 0, "done", size=10, age_h=2)
    fresh = await _job(api, camera, 1, "done", size=10)
    await api.ok("POST", "/api/v1/exports", Role.VIEWER, status=202, json=_body(camera, 20))
    assert (await api.call("GET", f"/api/v1/exports/{old}/file", Role.VIEWER)).status == 404
    assert not (api.client.app[keys.SETTINGS].data_dir / "exports" / f"{old}.mp4").exists()
    assert (await api.ok("GET", f"/api/v1/exports/{old}", Role.VIEWER))["state"] == "expired"
    assert (await api.call("GET", f"/api/v1/exports/{fresh}/file", Role.VIEWER)).status == 200
