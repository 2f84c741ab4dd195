"""ONVIF conformance of the simulator: the Profile S and T operations in onvif_profiles.py, per service,
driven by two independent client stacks, and failing on ActionNotSupported (or any other failure):

- the classic synchronous onvif-zeep with its own WSDL files (in a subprocess: it installs a package
  named ``onvif`` too, so it lives in its own prefix, .venv/onvif-zeep-classic, set up by scripts/venv.sh);
- the server's own client: onvif-zeep-async as the server uses it, plus the server's probe and PTZ code.

Media2 has no WSDL in either library, so its operations go as raw SOAP and through the server's own Media2
client (vms_server.ingest.media2, what its probe uses).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from onvif import ONVIFCamera

from vms_camsim import Codec, SimulatorConfig, SimulatorHandle
from vms_server.ingest.media2 import Media2Client, Media2Error
from vms_server.ingest.probe import probe_onvif
from vms_server.ptz.device import PtzDevice

from .helpers import small_camera, small_stream, soap_request
from .onvif_profiles import FIXED, MEDIA2, PTZ, TR2, Call, outcome_of

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
CLASSIC = Path(os.environ.get("VMS_ONVIF_CLASSIC") or Path(sys.prefix) / "onvif-zeep-classic" / "lib"
               / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages")


@pytest.fixture
async def conformance_sim() -> AsyncIterator[SimulatorHandle]:
    config = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[
        small_camera("fixed", main=small_stream(fps=5, kbps=200), sub=small_stream(width=160, height=96, fps=5)),
        small_camera("hevc", Codec.H265, main=small_stream(Codec.H265, fps=5, kbps=200), sub=None),
        small_camera("dome", ptz=True, main=small_stream(fps=5, kbps=200), sub=None),
    ])
    async with SimulatorHandle.start(config) as handle:
        yield handle


def _failures(outcomes: list[list[str]]) -> list[str]:
    return [f"Profile {p}: {service}.{op}: {outcome}" for p, service, op, outcome in outcomes if outcome != "ok"]


def _classic_blocking(port: int, calls: list[Call]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(CLASSIC)}
    done = subprocess.run([sys.executable, str(HERE / "onvif_classic_driver.py"), "127.0.0.1", str(port),
                           "admin", "admin"], input=json.dumps(calls), capture_output=True, text=True, env=env,
                          timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout))


@pytest.mark.skipif(not (CLASSIC / "onvif" / "client.py").exists(),
                    reason="classic onvif-zeep missing: scripts/venv.sh installs it into .venv/onvif-zeep-classic")
async def test_classic_onvif_zeep_client(conformance_sim: SimulatorHandle) -> None:
    fixed = await asyncio.to_thread(_classic_blocking, conformance_sim.onvif_port("fixed"), FIXED)
    assert Path(fixed["client"]).is_relative_to(CLASSIC)  # really the classic library, not the async one
    dome = await asyncio.to_thread(_classic_blocking, conformance_sim.onvif_port("dome"), PTZ)
    outcomes = fixed["outcomes"] + dome["outcomes"]
    assert len(outcomes) == len(FIXED) + len(PTZ)
    assert _failures(outcomes) == []


def _durations(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _durations(v) for k, v in value.items()}
    if isinstance(value, str) and value.startswith("PT") and value.endswith("S") and value[2:-1].isdigit():
        return dt.timedelta(seconds=int(value[2:-1]))
    return value


async def _async_client(port: int, calls: list[Call]) -> list[list[str]]:
    camera = ONVIFCamera("127.0.0.1", port, "admin", "admin")
    await camera.update_xaddrs()
    managers: list[Any] = []

    async def pullpoint() -> Any:
        manager = await camera.create_pullpoint_manager(dt.timedelta(seconds=60), lambda: None)
        managers.append(manager)
        return manager.get_service()

    makers = {"devicemgmt": camera.create_devicemgmt_service, "media": camera.create_media_service,
              "ptz": camera.create_ptz_service, "imaging": camera.create_imaging_service,
              "events": camera.create_events_service, "pullpoint": pullpoint}
    services: dict[str, Any] = {}
    outcomes = []
    try:
        for profile, service, operation, params in calls:
            try:
                if service not in services:
                    services[service] = await makers[service]()
                method = getattr(services[service], operation)
                await (method(_durations(params)) if params is not None else method())
                outcome = "ok"
            except Exception as exc:  # every failure is a result to report
                outcome = outcome_of(exc)
            outcomes.append([profile, service, operation, outcome])
    finally:
        for manager in managers:
            await manager.shutdown()
        await camera.close()
    return outcomes


async def test_the_servers_onvif_client(conformance_sim: SimulatorHandle) -> None:
    outcomes = await _async_client(conformance_sim.onvif_port("fixed"), FIXED)
    outcomes += await _async_client(conformance_sim.onvif_port("dome"), PTZ)
    assert _failures(outcomes) == []
    # The server's own code paths on top of it: adding a camera from its ONVIF address, steering it.
    found = await probe_onvif(conformance_sim.onvif_url("fixed"), "admin", "admin")
    assert [p["codec"] for p in found["profiles"]] == ["h264", "h264"]
    head = PtzDevice(conformance_sim.onvif_url("dome"), "admin", "admin")
    try:
        await head.continuous_move(0.3, 0.0, 0.0, 1.0)
        assert head.node.pan_tilt_velocity is not None
        await head.call("Stop", PanTilt=True, Zoom=True)
    finally:
        await head.close()


async def test_media2_profile_t(conformance_sim: SimulatorHandle) -> None:
    url = f"http://127.0.0.1:{conformance_sim.onvif_port('hevc')}/onvif/media2_service"
    outcomes = []
    async with aiohttp.ClientSession() as http:
        for operation, body in MEDIA2:
            async with http.post(url, data=soap_request(body)) as response:
                text = await response.text()
                ok = response.status == 200 and f"{operation}Response" in text
                unsupported = "ActionNotSupported" in text
                outcomes.append(["T", "media2", operation,
                                 "ok" if ok else "ActionNotSupported" if unsupported else f"failed: {text[:200]}"])
            if operation == "GetProfiles":
                assert "<tt:Encoding>H265</tt:Encoding>" in text and TR2 in text
        # The server's own Media2 client (what its probe uses on a Profile T camera), the same operations.
        client = Media2Client(url, "admin", "admin", http)
        for operation, body in MEDIA2:
            try:
                answer = await client.call(body)
                outcome = "ok" if answer.tag.endswith(f"{operation}Response") else f"failed: {answer.tag}"
            except Media2Error as exc:
                outcome = "ActionNotSupported" if "ActionNotSupported" in exc.subcodes else f"failed: {exc}"
            outcomes.append(["T", "media2 (server client)", operation, outcome])
    assert len(outcomes) == 2 * len(MEDIA2)
    assert _failures(outcomes) == []
    found = await probe_onvif(conformance_sim.onvif_url("hevc"), "admin", "admin")
    assert [p["codec"] for p in found["profiles"]] == ["hevc"]  # the probe read Media2: Media cannot say H.265


async def test_an_unsupported_operation_is_caught(conformance_sim: SimulatorHandle) -> None:
    """The checker can fail: an operation the simulator does not offer reads as ActionNotSupported."""
    outcomes = await _async_client(conformance_sim.onvif_port("fixed"), [
        ("S", "devicemgmt", "GetSystemLog", {"LogType": "System"}), ("S", "devicemgmt", "GetHostname", None)])
    assert _failures(outcomes) == ["Profile S: devicemgmt.GetSystemLog: ActionNotSupported"]
