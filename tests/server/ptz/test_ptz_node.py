"""The server reads the PTZ node and configuration before it moves a head: speeds are scaled into the
node's velocity space, an axis the head lacks is refused, positions in a camera's own space are
normalised, and the configuration's limits narrow the absolute range."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from zeep.exceptions import Fault

from vms_camsim.config import CameraConfig, PtzLimits, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.errors import Conflict
from vms_server.ptz.device import PtzDevice, _read_node
from vms_server.ptz.node import PT_VELOCITY, AxisMissing, PtzNode, parse_node, scale, velocity

OWN = "http://example.com/ptz/DegreesPerSecond"


def _space(uri: str, x: tuple[float, float], y: tuple[float, float] | None = None) -> SimpleNamespace:
    rng = {"XRange": SimpleNamespace(Min=x[0], Max=x[1])}
    if y is not None:
        rng["YRange"] = SimpleNamespace(Min=y[0], Max=y[1])
    return SimpleNamespace(URI=uri, **rng)


def test_generic_space_preferred_and_own_space_scaled() -> None:
    spaces = SimpleNamespace(ContinuousPanTiltVelocitySpace=[_space(OWN, (-90, 90), (-45, 45)),
                                                _space(PT_VELOCITY, (-1, 1), (-1, 1))],
                ContinuousZoomVelocitySpace=None, AbsolutePanTiltPositionSpace=None, AbsoluteZoomPositionSpace=None)
    node = parse_node(SimpleNamespace(SupportedPTZSpaces=spaces), None)
    assert node.pan_tilt_velocity is not None and node.pan_tilt_velocity.uri == PT_VELOCITY
    spaces.ContinuousPanTiltVelocitySpace = [_space(OWN, (-90, 90), (-45, 45))]
    node = parse_node(SimpleNamespace(SupportedPTZSpaces=spaces), None)
    sent = velocity(node, 0.5, -1.0, 0.0)
    assert sent == {"PanTilt": {"x": 45.0, "y": -45.0, "space": OWN}}  # no zoom space: no zoom element
    with pytest.raises(AxisMissing):
        velocity(node, 0.0, 0.0, 0.5)
    assert scale(0.0, (-3.0, 5.0)) == 0.0 and scale(-1.0, (-3.0, 5.0)) == -3.0 and scale(1.0, (-3.0, 5.0)) == 5.0
    assert scale(0.0, (1.0, 3.0)) == 2.0  # a range that does not span zero: mapped linearly


def test_configuration_limits_narrow_the_absolute_space() -> None:
    absolute = _space("http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace", (-1, 1), (-1, 1))
    spaces = SimpleNamespace(AbsolutePanTiltPositionSpace=[absolute], AbsoluteZoomPositionSpace=None,
                ContinuousPanTiltVelocitySpace=None, ContinuousZoomVelocitySpace=None)
    limits = SimpleNamespace(Range=_space(absolute.URI, (-0.5, 0.25), (-1, 0)))
    configuration = SimpleNamespace(PanTiltLimits=limits, ZoomLimits=None)
    node = parse_node(SimpleNamespace(SupportedPTZSpaces=spaces), configuration)
    assert node.pan_tilt_position is not None
    assert (node.pan_tilt_position.x, node.pan_tilt_position.y) == ((-0.5, 0.25), (-1.0, 0.0))


async def test_a_camera_without_node_operations_gets_the_generic_spaces() -> None:
    class OldFirmware:
        async def GetConfiguration(self, _: Any) -> Any:
            raise Fault("GetConfiguration is not supported")

    assert await _read_node(OldFirmware(), SimpleNamespace(token="ptz0")) == PtzNode.generic()


def test_positions_in_the_cameras_own_space_are_normalised() -> None:
    device = PtzDevice("http://127.0.0.1:1/onvif/device_service", None, None)
    degrees = "http://example.com/ptz/Degrees"
    spaces = SimpleNamespace(AbsolutePanTiltPositionSpace=[_space(degrees, (0, 360), (-90, 0))],
                AbsoluteZoomPositionSpace=[_space("http://example.com/ptz/Magnification", (1, 30))],
                ContinuousPanTiltVelocitySpace=None, ContinuousZoomVelocitySpace=None)
    device.node = parse_node(SimpleNamespace(SupportedPTZSpaces=spaces), None)
    pan, tilt, zoom = device.normalised(90.0, -45.0, 30.0, degrees, "http://example.com/ptz/Magnification")
    assert (pan, tilt, zoom) == (-0.5, 0.0, 1.0)
    generic = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace"
    assert device.normalised(0.3, 0.1, 0.2, generic, None) == (0.3, 0.1, 0.2)


@pytest.fixture
async def dome() -> AsyncIterator[SimulatorHandle]:
    small = StreamConfig(width=160, height=96, fps=5, bitrate_kbps=64)
    cfg = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[
        CameraConfig(name="dome", ptz=True, main=small, sub=None, loop_seconds=1,
                     ptz_limits=PtzLimits(pan_min=-0.5, pan_max=0.75, zoom_max=0.8))])
    async with SimulatorHandle.start(cfg) as handle:
        yield handle


async def test_the_simulators_node_is_read_before_the_first_move(dome: SimulatorHandle) -> None:
    device = PtzDevice(dome.onvif_url("dome"), "admin", "admin")
    try:
        await device.continuous_move(0.5, 0.0, 0.0, 0.5)
        node = device.node
        assert node.pan_tilt_position is not None and node.pan_tilt_position.x == (-0.5, 0.75)
        assert node.zoom_position is not None and node.zoom_position.x == (0.0, 0.8)
        assert node.pan_tilt_velocity is not None and node.pan_tilt_velocity.uri == PT_VELOCITY
        head = dome.camera("dome").ptz
        assert head is not None and head.moving()[0]
        await device.call("Stop", PanTilt=True, Zoom=True)
        device.node = PtzNode(None, node.zoom_velocity, None, None)  # a zoom-only head
        with pytest.raises(Conflict, match="cannot pan or tilt"):
            await device.continuous_move(1.0, 0.0, 0.0, None)
    finally:
        await device.close()
