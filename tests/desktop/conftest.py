"""Desktop tests run on the qasync loop, so the real widgets and a real server share one event loop.

The database is SQLite only: these tests exercise the client, not the SQL back ends.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import keyring.backend
import pytest
import pytestqt.plugin as pytestqt_plugin

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _no_pass_outside_the_loop() -> None:
    """pytest-qt processes Qt events between test phases, outside any asyncio loop. With qasync a Qt timer
    or socket event runs asyncio callbacks, so tasks of the test's server (the recording indexer, aiosqlite
    futures) then stepped with no running loop: "no running event loop" in teardown and, on PySide6 6.11,
    segfaults. Pending events are processed the next time a loop runs instead."""


pytestqt_plugin._process_events = _no_pass_outside_the_loop


@pytest.fixture(autouse=True)
def _collect_on_the_ui_thread() -> Iterator[None]:
    """Widgets and Qt objects of a finished test are freed here, on the UI thread. Left to Python's cyclic
    collector they may be freed on whichever thread next allocates (a decoder thread of the next test), and
    a QObject deleted off its thread leaves dangling timers behind."""
    yield
    gc.collect()


def _qt_loop() -> asyncio.AbstractEventLoop:
    from vms_desktop.qt_loop import new_loop

    return new_loop()


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    return {"qt": _qt_loop}


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    target = tmp_path / "vms.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), target)
    yield f"sqlite+aiosqlite:///{target}"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Any:
    """Short segments so that recordings become playable within seconds."""
    from tests.conftest import make_settings

    return make_settings(tmp_path / "data", db_url, recording={
        "segment_seconds": 1.0, "open_timeout_s": 5, "read_timeout_s": 3, "backoff_initial_s": 0.5,
        "backoff_max_s": 2, "status_interval_s": 1}, licensing={"unlicensed_camera_limit": 64})


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring for tests: the production code only talks to the keyring API."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    return MemoryKeyring()


async def wait_until(condition: Callable[[], bool], limit: float = 10.0, message: str = "") -> None:
    """Await a condition while the Qt loop keeps running (qtbot.waitUntil would block the server)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {limit} s: {message}")
        await asyncio.sleep(0.02)


async def wait_for(awaitable: Awaitable[Any], limit: float = 10.0) -> Any:
    return await asyncio.wait_for(awaitable, limit)


# --- a real server with simulator cameras ------------------------------------------------------------


class Desk:
    """A running server, simulator cameras registered, a logged-in client."""

    def __init__(self, api: Any, sim: Any) -> None:
        self.api = api
        self.sim = sim
        self.cameras: dict[str, str] = {}  # simulator name -> camera id
        self.client: Any = None

    @property
    def base_url(self) -> str:
        return str(self.api.client.make_url("")).rstrip("/")


def sim_config(names: list[str], ptz: tuple[str, ...] = ()) -> Any:
    from vms_camsim.config import CameraConfig, SimulatorConfig, StreamConfig

    main = StreamConfig(width=320, height=192, fps=10, bitrate_kbps=300, gop_seconds=1)
    sub = StreamConfig(width=160, height=96, fps=10, bitrate_kbps=100, gop_seconds=1)
    return SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[
        CameraConfig(name=n, main=main, sub=sub, loop_seconds=2, ptz=n in ptz) for n in names])


async def start_desk(settings: Any, aiohttp_client: Any, sim: Any, role: Any = None) -> Desk:
    from tests.conftest import seed
    from tests.server.helpers import ApiClient
    from vms_common.auth.roles import Role
    from vms_desktop.client.api import Tokens, VmsClient
    from vms_server.app import create_app

    role = role or Role.ADMIN
    seeded = await seed(settings)
    app = create_app(settings)
    api = ApiClient(await aiohttp_client(app), seeded)
    desk = Desk(api, sim)
    for name in sim.cameras:
        body = {"name": name, "site_id": str(seeded.site_id), "ptz": sim.camera(name).ptz is not None,
                "onvif_url": sim.onvif_url(name), "tags": ["lobby" if name.endswith("1") else "yard"],
                "credentials": {"method": "digest", "username": "admin", "secret": "admin"},
                "streams": [{"role": "main", "rtsp_url": sim.rtsp_url(name, "main")},
                            {"role": "sub", "rtsp_url": sim.rtsp_url(name, "sub")}]}
        camera = await api.ok("POST", "/api/v1/cameras", Role.ADMIN, status=201, json=body)
        desk.cameras[name] = str(camera["id"])
    client = VmsClient(desk.base_url)
    tokens = await api.login(role)  # a TOTP code works once: share the helper's login
    client.tokens = Tokens(tokens["access_token"], tokens["refresh_token"])
    client.username = seeded.users[role][0]
    desk.client = client
    return desk
