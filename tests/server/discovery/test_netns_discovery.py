"""Done-when of issue 18: in a network namespace the test creates, WS-Discovery finds 20 simulator cameras on
four addresses of a private test subnet, a scan finds them too, and one bulk call adds all 20. The namespace
has only its own loopback device, so no packet leaves the machine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture
def netns() -> Iterator[str]:
    if shutil.which("ip") is None:
        pytest.skip("iproute2 ('ip') is not installed: the namespace test cannot run")
    if os.geteuid() != 0:
        pytest.skip("creating a network namespace needs root (CI runs the tests as root)")
    name = f"vmsdisc{uuid.uuid4().hex[:8]}"
    made = _ip("netns", "add", name)
    if made.returncode != 0:
        pytest.skip(f"'ip netns add' is not possible here: {made.stderr.strip()}")
    try:
        steps = [["link", "set", "lo", "up"], ["link", "set", "lo", "multicast", "on"],
                 *(["addr", "add", f"10.213.0.{i}/24", "dev", "lo"] for i in (1, 11, 12, 13, 14)),
                 ["route", "add", "224.0.0.0/4", "dev", "lo"]]
        for step in steps:
            done = _ip("netns", "exec", name, "ip", *step)
            assert done.returncode == 0, f"ip {' '.join(step)}: {done.stderr}"
        yield name
    finally:
        _ip("netns", "del", name)


def test_twenty_cameras_discovered_and_added_in_one_call(netns: str, tmp_path: Path,
                                                         sqlite_template: Path) -> None:
    cmd = ["ip", "netns", "exec", netns, sys.executable, "-m", "tests.server.discovery.netns_scenario",
           str(tmp_path), str(sqlite_template)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    ws = result["ws"]
    assert ws["state"] == "done" and ws["warnings"] == []
    hosts = {d["host"] for d in ws["found"]}
    assert hosts == {"10.213.0.11", "10.213.0.12", "10.213.0.13", "10.213.0.14"}
    assert len(ws["found"]) == 20 and len({d["endpoint"] for d in ws["found"]}) == 20
    assert all(d["onvif_status"] == "ok" and d["model"] == "CamSim-1" for d in ws["found"])
    scan = result["scan"]
    assert scan["state"] == "done" and scan["total"] == 6
    onvif = sorted(d["onvif_url"] for d in scan["found"] if d["onvif_status"] == "ok")
    assert onvif == sorted(d["onvif_url"] for d in ws["found"])
    assert all(d["rtsp_ports"] == [8554] for d in scan["found"])
    bulk = result["bulk"]
    assert bulk["refused"] == [] and len(bulk["added"]) == 20
    assert len(result["cameras"]) == 20
    assert {c["streams"][0]["rtsp_url"].split("/")[2] for c in result["cameras"]} == {
        f"10.213.0.{i}:8554" for i in (11, 12, 13, 14)}
