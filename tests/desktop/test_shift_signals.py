"""Issue #26, defect 15: the client ends promptly and cleanly on SIGTERM and SIGINT.

The cause was SDL: opening the joystick subsystem (pygame-ce) installs SDL's own SIGINT/SIGTERM handlers,
which turn the signal into an SDL_QUIT event that nobody reads, so `systemctl stop` or a logout waited for
the SIGKILL. A child process runs the client's real session tail (joysticks started, main window shown)
and is sent the signal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = """
import asyncio, logging, sys
from pathlib import Path
from PySide6.QtWidgets import QApplication
from vms_desktop.__main__ import run_window
from vms_desktop.client.api import Tokens, VmsClient
from vms_desktop.main_window import MainWindow
from vms_desktop.qt_loop import QtLoop
from vms_desktop.store import LocalStore

logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s: %(message)s")
app = QApplication([])
app.setQuitOnLastWindowClosed(False)
loop = QtLoop(app)
asyncio.set_event_loop(loop)

async def load() -> None:
    print("ready", flush=True)
    await asyncio.sleep(3600)  # a server that does not answer: the signal must not wait for it

async def main() -> int:
    client = VmsClient("http://127.0.0.1:9")
    client.tokens = Tokens("a", "r")
    window = MainWindow(client, LocalStore(Path(sys.argv[1])))
    window.load = load
    code = await run_window(app, window, None)
    print("clean exit", flush=True)
    return code

with loop:
    sys.exit(loop.run_until_complete(main()))
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_ends_the_client_promptly(tmp_path: Path, signum: int) -> None:
    script = tmp_path / "client.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(Path(__file__).parents[2])}
    child = subprocess.Popen([sys.executable, str(script), str(tmp_path / "state.json")], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert child.stdout is not None
        lines = []
        for line in child.stdout:
            lines.append(line)
            if line.strip() == "ready":
                break
        assert lines and lines[-1].strip() == "ready", "".join(lines)
        sent = time.monotonic()
        child.send_signal(signum)
        output, _ = child.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, "".join(lines) + output
    assert took < 3, took
    assert "clean exit" in output and "stopping" in output, output
