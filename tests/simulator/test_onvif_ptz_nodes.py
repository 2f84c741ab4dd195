"""PTZ node, configurations and options through onvif-zeep-async: the limits a client reads are the
limits the head enforces."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import aiohttp
import pytest
from onvif import ONVIFCamera
from zeep.exceptions import Fault

from vms_camsim import SimulatorConfig, SimulatorHandle

from .helpers import small_camera, small_stream, soap_request

pytestmark = pytest.mark.slow

PTZ_NS = "http://www.onvif.org/ver20/ptz/wsdl"
POSITION = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace"


def _subcodes(fault: Fault) -> list[str]:
    return [code.localname for code in fault.subcodes or []]


@pytest.fixture
async def dome() -> AsyncIterator[tuple[SimulatorHandle, ONVIFCamera]]:
    config = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[
        small_camera("dome", ptz=True, main=small_stream(fps=5, kbps=200), sub=None,
                     ptz_limits={"pan_min": -0.5, "pan_max": 0.75, "zoom_max": 0.8}),
        small_camera("fixed", main=small_stream(fps=5, kbps=200), sub=None),
    ])
    async with SimulatorHandle.start(config) as sim:
        cam = ONVIFCamera("127.0.0.1", sim.onvif_port("dome"), "admin", "admin")
        await cam.update_xaddrs()
        yield sim, cam
        await cam.close()


async def test_node_and_configuration_carry_the_configured_limits(
        dome: tuple[SimulatorHandle, ONVIFCamera]) -> None:
    _, cam = dome
    ptz = await cam.create_ptz_service()
    caps = await ptz.GetServiceCapabilities()
    assert caps.EFlip is False and caps.GetCompatibleConfigurations is True
    nodes = await ptz.GetNodes()
    assert [n.token for n in nodes] == ["node0"]
    spaces = nodes[0].SupportedPTZSpaces
    absolute = spaces.AbsolutePanTiltPositionSpace[0]
    assert absolute.URI == POSITION
    assert (absolute.XRange.Min, absolute.XRange.Max) == (-0.5, 0.75)
    assert spaces.AbsoluteZoomPositionSpace[0].XRange.Max == 0.8
    assert spaces.ContinuousPanTiltVelocitySpace[0].URI.endswith("VelocityGenericSpace")
    assert (await ptz.GetNode({"NodeToken": "node0"})).MaximumNumberOfPresets == 100
    configs = await ptz.GetConfigurations()
    assert [c.token for c in configs] == ["ptz0"] and configs[0].NodeToken == "node0"
    single = await ptz.GetConfiguration({"PTZConfigurationToken": "ptz0"})
    assert single.PanTiltLimits.Range.XRange.Max == 0.75
    assert single.ZoomLimits.Range.XRange.Max == 0.8
    options = await ptz.GetConfigurationOptions({"ConfigurationToken": "ptz0"})
    assert options.Spaces.AbsolutePanTiltPositionSpace[0].XRange.Min == -0.5
    assert options.PTZTimeout.Max.total_seconds() == 60
    compatible = await ptz.GetCompatibleConfigurations({"ProfileToken": "main"})
    assert [c.token for c in compatible] == ["ptz0"]
    media = await cam.create_media_service()
    profile = (await media.GetProfiles())[0]
    assert profile.PTZConfiguration.token == "ptz0"
    single.DefaultPTZTimeout = dt.timedelta(seconds=12)
    await ptz.SetConfiguration({"PTZConfiguration": single, "ForcePersistence": True})
    assert (await ptz.GetConfigurations())[0].DefaultPTZTimeout == dt.timedelta(seconds=12)
    single.DefaultPTZTimeout = dt.timedelta(seconds=600)
    with pytest.raises(Fault) as too_long:
        await ptz.SetConfiguration({"PTZConfiguration": single, "ForcePersistence": True})
    assert _subcodes(too_long.value) == ["InvalidArgVal", "ConfigModify"]
    # What the camera advertises is what it does: the edge of the range is accepted, past it is not.
    await ptz.AbsoluteMove({"ProfileToken": "main", "Position": {"PanTilt": {"x": 0.75, "y": 0.0}}})
    with pytest.raises(Fault, match="outside the limits"):
        await ptz.AbsoluteMove({"ProfileToken": "main", "Position": {"PanTilt": {"x": 0.8, "y": 0.0}}})


async def test_unknown_tokens_and_a_fixed_camera_are_faults(dome: tuple[SimulatorHandle, ONVIFCamera]) -> None:
    sim, cam = dome
    ptz = await cam.create_ptz_service()
    with pytest.raises(Fault) as node_fault:
        await ptz.GetNode({"NodeToken": "nope"})
    assert _subcodes(node_fault.value) == ["InvalidArgVal", "NoEntity"]
    with pytest.raises(Fault) as config_fault:
        await ptz.GetConfigurationOptions({"ConfigurationToken": "nope"})
    assert _subcodes(config_fault.value) == ["InvalidArgVal", "NoConfig"]
    url = f"http://127.0.0.1:{sim.onvif_port('fixed')}/onvif/ptz_service"
    async with aiohttp.ClientSession() as http, \
            http.post(url, data=soap_request(f'<GetNodes xmlns="{PTZ_NS}"/>')) as response:
        assert response.status == 500
        assert "ter:PTZNotSupported" in await response.text()
