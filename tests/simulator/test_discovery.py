"""WS-Discovery inside a private network namespace (multicast does not work on this host's loopback)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                       reason="creating a network namespace needs root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2 ('ip') is not installed"),
]

PROBE = ("import json, sys; from vms_camsim.discovery import probe_blocking; "
         "print(json.dumps(probe_blocking(2.5, interface='127.0.0.1', target=sys.argv[1], scopes=sys.argv[2:])))")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"camsim-{uuid.uuid4().hex[:8]}"
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "link", "set", "lo", "multicast", "on")
        _ip("-n", name, "route", "add", "224.0.0.0/4", "dev", "lo")
        yield name
    finally:
        _ip("netns", "del", name)


@pytest.fixture(params=["one-interface", "all-interfaces"])
def responder(netns: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[bytes]]:
    ready = tmp_path / "ready.json"
    cmd = ["ip", "netns", "exec", netns, sys.executable, "-m", "vms_camsim", "--cameras", "3",
           "--main-size", "160x96", "--main-fps", "5", "--no-sub", "--loop-seconds", "1", "--rtsp-port", "0",
           "--onvif-port", "18080", "--discovery", "--ready-file", str(ready), "--log-level", "WARNING"]
    if request.param == "one-interface":
        cmd += ["--discovery-interface", "127.0.0.1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out = proc.communicate()[0].decode(errors="replace")
            pytest.fail(f"simulator did not start in the namespace: {out}")
        time.sleep(0.1)
    yield proc
    proc.terminate()
    proc.wait(10)


def _probe(netns: str, target: str, *scopes: str) -> list[dict[str, str]]:
    out = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", PROBE, target, *scopes],
                         capture_output=True, text=True, check=True, timeout=30)
    return list(json.loads(out.stdout))


def test_multicast_probe_finds_every_camera(netns: str, responder: subprocess.Popen[bytes]) -> None:
    matches = _probe(netns, "239.255.255.250")
    xaddrs = sorted(m["xaddrs"] for m in matches)
    assert xaddrs == [f"http://127.0.0.1:{port}/onvif/device_service" for port in (18080, 18081, 18082)]
    assert len({m["address"] for m in matches}) == 3
    for match in matches:
        assert match["address"].startswith("urn:uuid:")
        assert "onvif://www.onvif.org/Profile/Streaming" in match["scopes"].split()
        assert "NetworkVideoTransmitter" in match["types"]


def test_unicast_probe_is_answered(netns: str, responder: subprocess.Popen[bytes]) -> None:
    assert len(_probe(netns, "127.0.0.1")) == 3
    assert responder.poll() is None


def test_a_scoped_probe_finds_only_the_matching_camera(netns: str, responder: subprocess.Popen[bytes]) -> None:
    matches = _probe(netns, "239.255.255.250", "onvif://www.onvif.org/name/VMS_Simulator_cam2")
    assert [m["xaddrs"] for m in matches] == ["http://127.0.0.1:18081/onvif/device_service"]
    assert _probe(netns, "127.0.0.1", "onvif://www.onvif.org/location/elsewhere") == []
