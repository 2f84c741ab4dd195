"""The server bundle runs without the venv: --version/--help, init, and a server that records a camera
served by the bundled simulator, with a login over the API."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.installers.helpers import free_port, http, login, running, wait_for_file, wait_online, wait_ready

PASSWORD = "bundle-smoke-Pa55"


def clean_env(tmp: Path) -> dict[str, str]:
    """No venv on PATH, no PYTHONPATH: the bundle must find everything inside itself."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "LANG": "C.UTF-8"}


def run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)


def wait_recording(base: str, token: str, camera_id: str, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http("GET", f"{base}/api/v1/cameras/{camera_id}/status", token=token)[1]["recording"]:
            return True
        time.sleep(0.5)
    return False


def test_version_and_help_from_the_bundle(server_bundle: Path, tmp_path: Path) -> None:
    from vms_common import __version__

    env = clean_env(tmp_path)
    version = run([str(server_bundle / "vms-server"), "--version"], env)
    assert version.returncode == 0 and version.stdout.strip() == f"vms-server {__version__}"
    help_text = run([str(server_bundle / "vms-server"), "--help"], env)
    assert help_text.returncode == 0 and "init" in help_text.stdout and "run" in help_text.stdout
    info = json.loads((server_bundle / "build-info.json").read_text())
    assert info["version"] == __version__ and info["onnxruntime"] in {"cpu", "gpu"}
    if "vms-camsim" in info["executables"]:
        camsim = run([str(server_bundle / "vms-camsim"), "--help"], env)
        assert camsim.returncode == 0 and "--cameras" in camsim.stdout
    bad = run([str(server_bundle / "vms-server"), "no-such-command"], env)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_bundle_ships_models_and_migrations(server_bundle: Path) -> None:
    internal = server_bundle / "_internal"
    weights = internal / "vms_server" / "analytics" / "plugins" / "weights"
    assert (weights / "person_ssdlite_mobilenet_v2.onnx").stat().st_size > 1_000_000
    versions = internal / "vms_server" / "db" / "migrations" / "versions"
    assert (versions / "0001_initial_schema.py").is_file()
    assert not list(internal.rglob("__pycache__"))


@pytest.mark.slow
def test_bundled_server_records_the_bundled_simulator(server_bundle: Path, tmp_path: Path) -> None:
    info = json.loads((server_bundle / "build-info.json").read_text())
    assert "vms-camsim" in info["executables"], info["executables"]
    env = clean_env(tmp_path)
    data = tmp_path / "data"
    init = run([str(server_bundle / "vms-server"), "--data-dir", str(data), "init"],
               {**env, "VMS_ADMIN_PASSWORD": PASSWORD})
    assert init.returncode == 0, init.stderr
    assert (data / "vms.db").is_file() and (data / "secret.key").stat().st_mode & 0o077 == 0

    ready = tmp_path / "camsim.json"
    camsim = [str(server_bundle / "vms-camsim"), "--cameras", "1", "--rtsp-port", "0", "--no-onvif", "--no-sub",
              "--main-size", "320x240", "--main-fps", "10", "--loop-seconds", "2", "--ready-file", str(ready)]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = [str(server_bundle / "vms-server"), "--data-dir", str(data), "run", "--host", "127.0.0.1",
              "--port", str(port)]
    with running(camsim, tmp_path / "camsim.log", env=env) as sim_proc, \
            running(server, tmp_path / "server.log", env=env) as server_proc:
        urls = wait_for_file(ready, sim_proc, tmp_path / "camsim.log")
        wait_ready(base, server_proc, tmp_path / "server.log")
        token, _ = login(base, "admin", PASSWORD)
        status, sites = http("GET", f"{base}/api/v1/sites", token=token)
        assert status == 200, sites
        cam = urls["cameras"]["cam1"]
        url = cam["main"].replace("rtsp://", f"rtsp://{cam['username']}:{cam['password']}@")
        status, camera = http("POST", f"{base}/api/v1/cameras", {
            "name": "bundled", "site_id": sites["items"][0]["id"], "streams": [{"role": "main", "rtsp_url": url}]},
            token=token)
        assert status == 201, camera
        wait_online(base, token, camera["id"])
        assert wait_recording(base, token, camera["id"])
        server_proc.terminate()
        assert server_proc.wait(timeout=30) == 0
    assert "Traceback" not in (tmp_path / "server.log").read_text()
    assert any(p.is_file() for p in (data / "recordings").rglob("*"))


@pytest.mark.slow
def test_cloud_bundle_version_and_help(tmp_path: Path) -> None:
    from tests.installers.conftest import build_bundle
    from vms_common import __version__

    bundle = build_bundle("cloud")
    env = clean_env(tmp_path)
    version = run([str(bundle / "vms-cloud"), "--version"], env)
    assert version.returncode == 0 and version.stdout.strip() == f"vms-cloud {__version__}"
    help_text = run([str(bundle / "vms-cloud"), "--help"], env)
    assert help_text.returncode == 0 and "init" in help_text.stdout
