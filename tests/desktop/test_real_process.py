"""The client as an operator starts it: `vms-desktop --server HOST:PORT` on a real X display (issue #17).

Every other desktop test builds widgets inside the test process on the offscreen platform, so none of them
goes through `main()`: the login dialog closing as the last window, Qt quitting, and the asyncio loop
stopping under the login coroutine (the client exited right after a successful login). Here the real entry
point runs as a child process on Xvfb, is driven with xdotool key strokes, and the picture on the X
screen is checked for decoded video. The server and the simulator cameras run in the test process.

The in-process tests at the end cover the two other ways a session ends: cancelling the login (status 1)
and closing the main window (status 0, after `shutdown`), with the loop still running afterwards.
"""

from __future__ import annotations

import asyncio
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from tests.conftest import PASSWORD
from tests.desktop.conftest import Desk, MemoryKeyring, sim_config, start_desk, wait_until
from tests.server.helpers import totp_now
from vms_camsim.handle import SimulatorHandle
from vms_desktop.client.api import normalise_address
from vms_desktop.store import LocalStore
from vms_desktop.wall.models.layout import Layout

T = TypeVar("T")
TOOLS = ("Xvfb", "xdotool", "xwd")
LOGIN_TITLE = "Connect to a VMS server"
BACKGROUND = (18, 18, 20)  # what a tile paints where there is no picture (VideoTile.paintEvent)
# Blocking X tools run here, never on the loop's default executor, which the server uses too.
_TOOLS_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="x11-tools")


async def _blocking(func: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_TOOLS_POOL, func, *args)


# --- the X server ----------------------------------------------------------------------------------


class XDisplay:
    """An Xvfb server on a display number it picks itself (`-displayfd`), so parallel runs never collide."""

    def __init__(self, log: Path) -> None:
        self.log = log
        read_end, write_end = os.pipe()
        try:
            with log.open("wb") as out:  # a file, not a pipe nobody reads that could fill up and block Xvfb
                self.process = subprocess.Popen(
                    # -r: no key auto-repeat. xdotool presses and releases each key as two XTEST requests; on a
                    # loaded machine it can be descheduled between them for longer than the repeat delay, and
                    # the X server then types the digit again (a seven-digit TOTP code the server refuses).
                    ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1920x1080x24", "-nolisten", "tcp",
                     "-noreset", "-r"], pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=out)
            os.close(write_end)
            self.name = f":{self._read_number(read_end, limit=20.0)}"
        finally:
            os.close(read_end)
        socket = Path(f"/tmp/.X11-unix/X{self.name[1:]}")
        assert socket.exists(), f"Xvfb reported {self.name} but {socket} does not exist"

    def _read_number(self, fd: int, limit: float) -> int:
        """Xvfb writes the display number once it accepts connections."""
        data = b""
        while not data.endswith(b"\n"):
            ready, _, _ = select.select([fd], [], [], limit)
            chunk = os.read(fd, 16) if ready else b""
            if not chunk:
                self.stop()
                raise AssertionError(f"Xvfb did not start within {limit} s: {self.log.read_text()[-2000:]}")
            data += chunk
        return int(data)

    def run(self, *args: str, limit: float = 10.0) -> subprocess.CompletedProcess[bytes]:
        """A short X tool call against this display (bounded; never `--sync`, which could wait forever)."""
        env = {**os.environ, "DISPLAY": self.name}
        return subprocess.run(args, env=env, capture_output=True, timeout=limit, check=False)

    def xdotool(self, *args: str) -> None:
        done = self.run("xdotool", *args)
        assert done.returncode == 0, f"xdotool {args}: {done.stderr.decode()}"

    def visible_window(self, title_regex: str) -> str | None:
        found = self.run("xdotool", "search", "--onlyvisible", "--name", title_regex)
        ids = found.stdout.decode().split()
        return ids[0] if found.returncode == 0 and ids else None

    def geometry(self, window: str) -> tuple[int, int, int, int]:
        out = self.run("xdotool", "getwindowgeometry", "--shell", window)
        assert out.returncode == 0, out.stderr.decode()
        values = dict(line.split("=", 1) for line in out.stdout.decode().split())
        return int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])

    def screenshot(self) -> np.ndarray[Any, np.dtype[np.uint8]]:
        """The whole screen as an RGB array, from `xwd -root`."""
        out = self.run("xwd", "-root", "-silent", limit=20.0)
        assert out.returncode == 0, out.stderr.decode()
        return parse_xwd(out.stdout)

    def stop(self) -> None:
        stop_process(self.process, limit=5.0)


def parse_xwd(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """An X window dump of a TrueColor screen (8 bits per channel) as RGB rows.

    Pixels take `bytes_per_line // width` bytes (4 on Xvfb's 24-bit screen, although the header's
    bits_per_pixel may say 24).
    """
    fields = struct.unpack(">25I", data[:100])
    header_size, byte_order, bytes_per_line = fields[0], fields[7], fields[12]
    width, height, ncolors, masks = fields[4], fields[5], fields[19], fields[14:17]
    size = bytes_per_line // width
    assert size in (3, 4) and masks == (0xFF0000, 0xFF00, 0xFF), f"unexpected XWD layout {fields}"
    start = header_size + 12 * ncolors
    rows = np.frombuffer(data, np.uint8, height * bytes_per_line, start).reshape(height, bytes_per_line)
    pixels = rows[:, : width * size].reshape(height, width, size)
    # LSB first: the bytes of 0x(00)RRGGBB are B, G, R(, 0); MSB first: (0,) R, G, B.
    return pixels[..., [2, 1, 0]] if byte_order == 0 else pixels[..., [size - 3, size - 2, size - 1]]


def stop_process(process: subprocess.Popen[bytes], limit: float) -> None:
    """SIGTERM, then SIGKILL if it is still there after `limit` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(limit)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(limit)


# --- what the screen shows ---------------------------------------------------------------------------


def wall_area(shot: np.ndarray[Any, np.dtype[np.uint8]]) -> np.ndarray[Any, np.dtype[np.uint8]] | None:
    """The video wall: the bounding box of the tiles' own background colour (tiles and letterboxes)."""
    mask = np.all(shot == BACKGROUND, axis=2)
    ys, xs = np.nonzero(mask)
    if len(xs) < 1000:
        return None
    return shot[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]


def video_measure(area: np.ndarray[Any, np.dtype[np.uint8]]) -> list[tuple[int, float]]:
    """Per quarter of the 2x2 wall: (distinct colours, share of pixels that are not tile background).

    An empty or connecting tile is the flat background with a line of grey text: a few dozen colours and
    almost nothing but background. A decoded H.264 picture brings thousands of colours and covers the tile.
    """
    half_h, half_w = area.shape[0] // 2, area.shape[1] // 2
    measures = []
    for top in (0, half_h):
        for left in (0, half_w):
            tile = area[top: top + half_h, left: left + half_w]
            flat = tile.reshape(-1, 3).astype(np.uint32)
            colours = len(np.unique((flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]))
            measures.append((colours, round(float(np.mean(np.any(tile != BACKGROUND, axis=2))), 3)))
    return measures


def shows_video(measures: list[tuple[int, float]]) -> bool:
    return all(colours > 1000 and covered > 0.5 for colours, covered in measures)


def save_png(shot: np.ndarray[Any, np.dtype[np.uint8]], path: Path) -> None:
    from PySide6.QtGui import QImage

    data = np.ascontiguousarray(shot)
    image = QImage(data.data, data.shape[1], data.shape[0], data.shape[1] * 3, QImage.Format.Format_RGB888)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert image.copy().save(str(path)), path


# --- the real client ------------------------------------------------------------------------------------


def client_command() -> list[str]:
    """The installed console script when there is one (what an operator runs), else `python -m`."""
    script = Path(sys.executable).parent / "vms-desktop"
    return [str(script)] if script.exists() else [sys.executable, "-m", "vms_desktop"]


def client_env(display: XDisplay, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "DISPLAY", "WAYLAND"))}
    runtime = home / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env.update({"DISPLAY": display.name, "QT_QPA_PLATFORM": "xcb", "HOME": str(home),
                "XDG_CONFIG_HOME": str(home / "config"), "XDG_RUNTIME_DIR": str(runtime),
                # No OS keyring, as on a bare Linux workstation: remember-me is off, nothing is resumed.
                "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    return env


class RunningClient:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(client_command() + args, env=env, stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def report(self, what: str) -> str:
        status = self.process.poll()
        state = "still running" if status is None else f"exited with status {status}"
        return f"{what}; the client {state}; its output:\n{self.output()[-4000:]}"

    def alive(self) -> bool:
        return self.process.poll() is None


async def poll(probe: Callable[[], T | None], limit: float, why: Callable[[], str],
               interval: float = 0.2) -> T:
    """Run a blocking probe off the loop until it returns something, for at most `limit` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        found = await _blocking(probe)
        if found is not None:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {limit} s: {why()}")
        await asyncio.sleep(interval)


def viewer(desk: Desk) -> tuple[str, str]:
    """(username, TOTP secret) of the seeded viewer, whose TOTP code nothing has spent yet."""
    users: dict[Any, tuple[str, str]] = desk.api.seeded.users
    return next(user for role, user in users.items() if role.value == "viewer")


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with SimulatorHandle.start(sim_config(["Lobby1", "Gate2", "Yard3", "Dome4"])) as sim:
        desk = await start_desk(settings, aiohttp_client, sim)
        yield desk
        await desk.client.close()


def seed_layout(state: Path, user: str, camera_ids: list[str]) -> None:
    """The operator's saved 2x2 wall (as a previous session would have left it in the local store)."""
    layout = Layout.grid(4, "Lobby wall")
    for camera_id in camera_ids:
        layout.place(camera_id)
    store = LocalStore(state)
    store.save_layout(user, layout)
    store.close()


async def log_in(display: XDisplay, running: RunningClient, username: str, secret: str) -> str:
    """Type the login and the TOTP code into the real client's dialog as an operator would; the main
    window's X id once it is shown (and the dialog gone)."""

    def login_window() -> str | None:
        if not running.alive():
            raise AssertionError(running.report("no login dialog"))
        return display.visible_window(f"^{LOGIN_TITLE}$")

    dialog = await poll(login_window, 60, lambda: running.report("no login dialog"))
    # No window manager on Xvfb: give the dialog the keyboard focus ourselves. The cursor is in the
    # username field (the server address came from --server).
    await _blocking(display.xdotool, "windowfocus", dialog)
    await _blocking(display.xdotool, "type", "--delay", "20", f"{username}\t{PASSWORD}")
    await _blocking(display.xdotool, "key", "Return")

    def asked_for_code() -> bool | None:
        if not running.alive():
            raise AssertionError(running.report("no TOTP prompt"))
        return True if "for a one-time code" in running.output() else None

    await poll(asked_for_code, 30, lambda: running.report("the server never asked for the TOTP code"))
    # The prompt is logged after the code field got the focus, so these keys land in it.
    await _blocking(display.xdotool, "type", "--delay", "20", totp_now(secret))
    await _blocking(display.xdotool, "key", "Return")

    def main_window() -> str | None:
        if not running.alive():
            raise AssertionError(running.report("no main window"))
        return display.visible_window(f"^VMS - {username} @ ")

    window = await poll(main_window, 60, lambda: running.report("no main window after the login"))
    assert display.visible_window(f"^{LOGIN_TITLE}$") is None, "the login dialog is still shown"
    return window


@pytest.mark.slow
@pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                    reason="needs Xvfb, xdotool and xwd (Debian xvfb, xdotool, x11-apps: scripts/apt-packages.txt)")
async def test_real_client_logs_in_on_x_and_shows_live_video(desk: Desk, tmp_path: Path) -> None:
    # The viewer logs in here: start_desk already spent the admin's current TOTP code (each works once).
    username, secret = viewer(desk)
    address = desk.base_url  # http:// typed: the test server runs with TLS off (a bare host:port is https)
    state = tmp_path / "state.json"
    seed_layout(state, f"{username}@{normalise_address(address)}", list(desk.cameras.values()))
    display = await _blocking(XDisplay, tmp_path / "xvfb.log")
    client: RunningClient | None = None
    try:
        client = RunningClient(["--server", address, "--state", str(state), "--no-discovery"],
                               client_env(display, tmp_path), tmp_path / "client.log")
        running = client
        window = await log_in(display, running, username, secret)
        x, y, width, height = await _blocking(display.geometry, window)
        assert width > 300 and height > 200, (width, height)
        measured: list[list[tuple[int, float]]] = []

        def live_wall() -> np.ndarray[Any, np.dtype[np.uint8]] | None:
            if not running.alive():
                raise AssertionError(running.report("the client died with the main window shown"))
            shot = display.screenshot()
            area = wall_area(shot[y: y + height, x: x + width])
            if area is None:
                return None
            measured.append(video_measure(area))
            return shot if shows_video(measured[-1]) else None

        shot = await poll(live_wall, 60, lambda: running.report(f"no live video in every tile: {measured[-3:]}"),
                          interval=0.5)
        # Still there a few seconds after the login (it used to exit as the dialog closed), and the wall
        # keeps moving. The simulator loops its clip, so a picture taken a whole number of loops later can
        # look the same: poll until one differs instead of comparing with a single later picture.
        first = wall_area(shot[y: y + height, x: x + width])
        assert first is not None
        loop = asyncio.get_running_loop()
        settle = loop.time() + 3.0
        while loop.time() < settle:
            assert running.alive(), running.report("the client exited after showing video")
            await asyncio.sleep(0.2)
        changes: list[float] = []

        def moved_on() -> bool | None:
            if not running.alive():
                raise AssertionError(running.report("the client exited after showing video"))
            later = wall_area(display.screenshot()[y: y + height, x: x + width])
            if later is None or later.shape != first.shape:
                return None
            changes.append(round(float(np.mean(np.any(later != first, axis=2))), 3))
            return True if changes[-1] > 0.05 else None

        await poll(moved_on, 15, lambda: f"the video on the wall does not change: {changes[-5:]}", 0.3)
        save_png(shot, tmp_path / "login_real_xvfb.png")  # what the operator saw, kept with the run
    finally:
        if client is not None:
            await _blocking(stop_process, client.process, 10.0)
        await _blocking(display.stop)


# --- in-process: how a session ends ----------------------------------------------------------------------


@pytest.fixture
def empty_keyring(monkeypatch: pytest.MonkeyPatch) -> MemoryKeyring:
    """Nothing remembered, and the developer's own keyring untouched."""
    import keyring

    store = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: store)
    return store


@pytest.fixture
def app_quit_policy() -> Iterator[None]:
    """`_run` turns automatic quitting off; the shared test application gets its setting back."""
    from PySide6.QtWidgets import QApplication

    before = QApplication.quitOnLastWindowClosed()
    yield
    QApplication.setQuitOnLastWindowClosed(before)


def _top_levels() -> set[Any]:
    from PySide6.QtWidgets import QApplication

    return set(QApplication.topLevelWidgets())


def _new_window(kind: str, before: set[Any]) -> Any:
    """A visible top-level widget of this class that the session under test created."""
    shown = [w for w in _top_levels() - before if type(w).__name__ == kind and w.isVisible()]
    return shown[0] if shown else None


async def test_closing_the_main_window_ends_the_session_with_status_0(
        qtbot: QtBot, desk: Desk, tmp_path: Path, empty_keyring: MemoryKeyring, app_quit_policy: None) -> None:
    from vms_desktop.__main__ import _parse, _run

    args = _parse(["--server", desk.base_url, "--state", str(tmp_path / "state.json"), "--no-discovery"])
    before = _top_levels()
    session = asyncio.ensure_future(_run(args))
    await wait_until(lambda: _new_window("LoginDialog", before) is not None, 10, "login dialog shown")
    dialog = _new_window("LoginDialog", before)
    username, secret = viewer(desk)
    dialog.username.setText(username)
    dialog.password.setText(PASSWORD)
    dialog.login_button.click()
    await wait_until(lambda: dialog.totp.isVisibleTo(dialog), 10, dialog.message.text())
    dialog.totp.setText(totp_now(secret))
    dialog.login_button.click()
    await wait_until(lambda: _new_window("MainWindow", before) is not None, 10, "main window after the login")
    window = _new_window("MainWindow", before)
    qtbot.addWidget(window)  # closed at teardown even when this test fails, so it cannot hide the next one
    assert not dialog.isVisible() and not session.done()
    await wait_until(lambda: window.tabs.count() == 1, 10, "layouts loaded")
    assert window.client._session is not None
    window.close()
    # The session returns after `shutdown` (the client's HTTP session is closed), and the loop is still
    # running: before the fix Qt quit here and the loop stopped under the coroutine.
    assert await asyncio.wait_for(session, 20) == 0
    assert window.client._session is None


async def test_cancelling_the_login_ends_with_status_1(
        qtbot: QtBot, empty_keyring: MemoryKeyring, app_quit_policy: None, tmp_path: Path) -> None:
    from vms_desktop.__main__ import _parse, _run

    before = _top_levels()
    session = asyncio.ensure_future(_run(_parse(["--server", "127.0.0.1:9", "--no-discovery",
                                                 "--state", str(tmp_path / "state.json")])))
    await wait_until(lambda: _new_window("LoginDialog", before) is not None, 10, "login dialog shown")
    dialog = _new_window("LoginDialog", before)
    assert dialog.username.hasFocus() or dialog.focusWidget() is dialog.username
    dialog.reject()
    assert await asyncio.wait_for(session, 10) == 1
    assert not any(type(w).__name__ == "MainWindow" for w in _top_levels() - before)
