"""Fixtures of the WebRTC tests: a real coturn per test, server settings that point at it, a simulator camera,
and a media server (SQLite, recording settings, the test page on its own origin)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiortc import RTCPeerConnection, RTCRtpReceiver

from tests.conftest import make_settings, seed
from tests.server.helpers import ApiClient
from tests.server.recording.conftest import camera
from tests.server.webrtc.coturn import Coturn, running_coturn
from vms_camsim.config import SimulatorConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server.settings import Settings

PAGE = Path(__file__).with_name("page.html")


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    with running_coturn(tmp_path / "coturn") as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, db_url: str, coturn: Coturn) -> Settings:
    return make_settings(tmp_path / "data", db_url, network={"ice": {
        "stun_urls": [coturn.stun_url], "turn_urls": [coturn.turn_url], "turn_secret": coturn.secret,
        "turn_ttl_s": 600}})


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[camera()])) as handle:
        yield handle


@pytest.fixture
def media_settings(tmp_path: Path, sqlite_template: Path, coturn: Coturn) -> Settings:
    """SQLite only: this test is about media, not SQL."""
    shutil.copy(sqlite_template, tmp_path / "vms.db")
    return make_settings(
        tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'vms.db'}",
        recording={"segment_seconds": 2.0, "open_timeout_s": 5, "read_timeout_s": 3, "backoff_initial_s": 0.5},
        network={"ice": {"stun_urls": [coturn.stun_url], "turn_urls": [coturn.turn_url],
                         "turn_secret": coturn.secret}})


@pytest.fixture
async def media_server(media_settings: Settings, aiohttp_client: Any) -> ApiClient:
    """The real server on a loopback port, serving the test page on its own origin (no CORS to set up)."""
    from vms_server.app import create_app

    app = create_app(media_settings)

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PAGE.read_text(), content_type="text/html")

    app.router.add_get("/webrtc-test.html", page)
    return ApiClient(await aiohttp_client(app), await seed(media_settings))


def recvonly_peer(codec: str | None = None) -> RTCPeerConnection:
    """A viewer's peer connection (aiortc's, like a browser's offer): one recvonly video transceiver, limited
    to `codec` ("H264", "VP8") when given."""
    pc = RTCPeerConnection()
    transceiver = pc.addTransceiver("video", direction="recvonly")
    if codec is not None:
        transceiver.setCodecPreferences([c for c in RTCRtpReceiver.getCapabilities("video").codecs
                                         if c.mimeType == f"video/{codec}"])
    return pc


async def camera_online(api: ApiClient, camera_id: str) -> bool:
    status = await api.ok("GET", f"/api/v1/cameras/{camera_id}/status", Role.VIEWER)
    return bool(status["streams"]) and all(s["state"] == "online" for s in status["streams"])
