"""Edge storage gap fill (issue 21, ONVIF Profile G): a camera whose network drops keeps recording to its card;
when it is back the server searches the card, replays the hole over RTSP and indexes it as from the edge.

The outage lasts EDGE_OUTAGE_S seconds (default 20; the issue's 2 minutes with EDGE_OUTAGE_S=120, which the
simulator's 10-minute card holds just as well) to keep the test well under a minute and a half."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from pathlib import Path
from typing import Any

import av
import pytest
from sqlalchemy import select

from tests.conftest import seed
from tests.server.helpers import ApiClient
from tests.server.recording.conftest import camera, frames_in, recording_settings, wait_for
from vms_camsim.config import AuthMode, SimulatorConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.recording.models import RecordingSegment

pytestmark = pytest.mark.slow

OUTAGE_S = float(os.environ.get("EDGE_OUTAGE_S", "20"))


async def _rows(app: Any, camera_id: str) -> list[RecordingSegment]:
    async with app[keys.SESSIONS]() as session:
        return list((await session.scalars(select(RecordingSegment).where(
            RecordingSegment.camera_id == uuid.UUID(camera_id)).order_by(
            RecordingSegment.start_at))).all())


async def test_a_network_outage_is_filled_from_the_cameras_card(tmp_path: Path, sqlite_url: str,
                                                                  aiohttp_client: Any) -> None:
    from vms_server.app import create_app

    settings = recording_settings(tmp_path, sqlite_url, edge_fill_interval_s=1.0, edge_fill_min_gap_s=1.0)
    api = ApiClient(await aiohttp_client(create_app(settings)), await seed(settings))
    app = api.client.app
    config = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[camera(auth=AuthMode.DIGEST, card_minutes=5)])
    async with SimulatorHandle.start(config) as sim:
        added = await api.ok("POST", "/api/v1/cameras/from-onvif", Role.ADMIN, status=201, json={
            "name": "yard", "site_id": str(api.seeded.site_id), "onvif_url": sim.onvif_url("cam1"),
            "username": "admin", "password": "admin"})
        camera_id = str(added["id"])
        first = (await wait_for(lambda: _rows(app, camera_id), limit=30))[0]

        sim.set_network("cam1", up=False)
        down_at = dt.datetime.now(dt.UTC)
        await asyncio.sleep(OUTAGE_S)
        sim.set_network("cam1", up=True)
        up_at = dt.datetime.now(dt.UTC)

        async def filled() -> list[RecordingSegment]:
            rows = await _rows(app, camera_id)
            after = [r for r in rows if not r.from_edge and r.start_at > up_at - dt.timedelta(seconds=1)]
            edge = [r for r in rows if r.from_edge]
            return edge if edge and after and max(r.end_at for r in edge) >= min(r.start_at for r in after) \
                - dt.timedelta(seconds=0.5) else []

        edge = await wait_for(filled, limit=45, interval=0.5)
        # The hole (the outage and the reconnection after it) is covered by footage from the card.
        assert min(r.start_at for r in edge) <= down_at
        assert sum(r.duration_s for r in edge) >= OUTAGE_S * 0.9
        status = await api.ok("GET", f"/api/v1/cameras/{camera_id}/status", Role.VIEWER)
        # Loss accounting: the card's frames are written, not lost (the outage was counted lost while it lasted).
        assert status["frames"]["from_edge"] == sum(r.frames for r in edge)
        assert status["frames"]["written"] >= status["frames"]["from_edge"]
        for row in edge:
            path = Path(row.volume) / row.path
            assert row.reason == "edge" and frames_in(path) == row.frames > 0
            with av.open(str(path)) as container:  # a real picture, not only packets
                picture = next(container.decode(container.streams.video[0]))
                assert (picture.width, picture.height) == (320, 240)

        after = [r for r in await _rows(app, camera_id) if not r.from_edge and r.start_at > up_at]
        end = max(r.end_at for r in after)
        timeline = await api.ok("GET", f"/api/v1/cameras/{camera_id}/recordings", Role.VIEWER, params={
            "start": first.start_at.isoformat(), "end": end.isoformat()})
        assert timeline["gaps"] == [], timeline
        marked = [r for r in timeline["ranges"] if r["from_edge"]]
        assert marked and all(not r["on_fallback"] for r in marked)
        edge_seconds = sum((dt.datetime.fromisoformat(r["end"]) - dt.datetime.fromisoformat(r["start"]))
                           .total_seconds() for r in marked)
        assert edge_seconds >= OUTAGE_S * 0.9
