"""The sizing calculator through its two entry points (CLI and API), with figures checked by hand."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server.sizing.calculator import SizingInput, size


def test_figures_follow_the_stated_assumptions() -> None:
    # 10 cameras x 2000 kbit/s, continuous, 7 days: 2000*10*1.05 kbit/s = 2.625 MB/s; x 604800 s = 1.5876 TB;
    # with 10 % free: 1.764 TB.
    r = size(SizingInput(cameras=10, bitrate_kbps=2000, retention_days=7))
    assert r.storage_tb == 1.76 and r.disk_write_mbps == 2.62 and r.network_in_mbps == 20.0
    assert r.gpus == 0 and r.cpu_cores == 3  # 2 base + 10 x 0.03
    motion = size(SizingInput(cameras=10, bitrate_kbps=2000, retention_days=7, recording_mode="motion"))
    assert motion.storage_tb == round(1.764 * 0.3, 2)
    h265 = size(SizingInput(cameras=1, resolution="1080p", codec="h265", fps=30))
    assert h265.bitrate_kbps_per_camera == 4000 * 0.6 * 2
    gpu = size(SizingInput(cameras=100, analytics=["fire_smoke", "intrusion", "motion"]))
    assert gpu.gpus == 5  # 200 DNN camera-model pairs / 48 per GPU
    cpu = size(SizingInput(cameras=100, analytics=["fire_smoke", "intrusion", "motion"], use_gpu=False))
    assert cpu.gpus == 0 and cpu.cpu_cores > gpu.cpu_cores + 150
    assert any("48 camera-model pairs per GPU" in a for a in gpu.assumptions)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vms_server", "size", *args], capture_output=True, text=True,
                          timeout=60, check=False)


def test_cli_prints_the_result_and_its_assumptions() -> None:
    report = _cli("--cameras", "10", "--bitrate-kbps", "2000", "--retention-days", "7")
    assert report.returncode == 0, report.stderr
    assert "1.76 TB" in report.stdout and "assumptions:" in report.stdout
    as_json = json.loads(_cli("--cameras", "10", "--bitrate-kbps", "2000", "--retention-days", "7",
                              "--json").stdout)
    assert as_json["storage_tb"] == 1.76
    bad = _cli("--cameras", "10", "--analytics", "telepathy")
    assert bad.returncode == 2 and "unknown analytics models: telepathy" in bad.stderr
    assert "Traceback" not in bad.stderr


async def test_api(api: ApiClient) -> None:
    body = {"cameras": 10, "bitrate_kbps": 2000, "retention_days": 7}
    result = await api.ok("POST", "/api/v1/sizing", Role.VIEWER, json=body)
    assert result["storage_tb"] == 1.76 and result["assumptions"]
    bad = await api.call("POST", "/api/v1/sizing", Role.VIEWER, json={"cameras": 0, "resolution": "8k"})
    assert bad.status == 422
    fields = {d["field"] for d in (await bad.json())["error"]["details"]}
    assert fields == {"cameras", "resolution"}
