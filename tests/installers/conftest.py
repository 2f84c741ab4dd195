"""The server bundle is built once per test run (PyInstaller takes a minute or more) and reused from
build/installers when the sources have not changed since (`build_bundle.py --if-changed`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.installers.helpers import BUILD, REPO


def build_bundle(name: str) -> Path:
    result = subprocess.run([sys.executable, str(REPO / "installers" / "build_bundle.py"), name, "--if-changed",
                             "--out", str(BUILD)], capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    folder = BUILD / "dist" / f"vms-{name}"
    assert (folder / f"vms-{name}").is_file(), f"vms-{name} bundle not built: {result.stdout.strip()}"
    return folder


@pytest.fixture(scope="session")
def server_bundle() -> Path:
    if sys.platform != "linux":
        pytest.skip("the bundle tests run on Linux (Windows builds run in the Windows workflow)")
    return build_bundle("server")
