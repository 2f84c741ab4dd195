"""Device settings through onvif-zeep-async: read-outs match the running simulator, and what a client
sets (host name, scopes, discovery mode) is read back and used by WS-Discovery."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from onvif import ONVIFCamera
from zeep.exceptions import Fault

from vms_camsim import SimulatorConfig, SimulatorHandle
from vms_camsim.discovery import DiscoveryResponder

from .helpers import small_camera, small_stream
from .test_discovery_scopes import _Capture, _probe

pytestmark = pytest.mark.slow

LAB = "onvif://www.onvif.org/location/lab"


@pytest.fixture
async def device_sim() -> AsyncIterator[SimulatorHandle]:
    config = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[
        small_camera("cam1", main=small_stream(fps=5, kbps=200), sub=None)])
    async with SimulatorHandle.start(config) as handle:
        yield handle


def _subcodes(fault: Fault) -> list[str]:
    return [code.localname for code in fault.subcodes or []]


def _answers(sim: SimulatorHandle, scopes: str | None) -> int:
    responder = DiscoveryResponder(sim)
    capture = _Capture()
    responder._transport = capture  # type: ignore[assignment]
    responder.on_datagram(_probe(scopes), ("127.0.0.1", 40000))
    return len(capture.sent)


async def test_read_outs_and_settings(device_sim: SimulatorHandle) -> None:
    cam = ONVIFCamera("127.0.0.1", device_sim.onvif_port("cam1"), "admin", "admin")
    device = await cam.create_devicemgmt_service()
    protocols = {p.Name: p.Port for p in await device.GetNetworkProtocols()}
    assert protocols["HTTP"] == [device_sim.onvif_port("cam1")]
    assert device_sim.rtsp is not None and protocols["RTSP"] == [device_sim.rtsp.port]
    assert [(u.Username, u.UserLevel) for u in await device.GetUsers()] == [("admin", "Administrator")]
    caps = await device.GetServiceCapabilities()
    assert caps.Security.UsernameToken is True and caps.Security.HttpDigest is True

    await device.SetHostname({"Name": "lobby-cam"})
    assert (await device.GetHostname()).Name == "lobby-cam"
    with pytest.raises(Fault) as bad_name:
        await device.SetHostname({"Name": "not a host!"})
    assert "InvalidHostname" in _subcodes(bad_name.value)

    assert _answers(device_sim, LAB) == 0
    await device.AddScopes({"ScopeItem": [LAB]})
    scopes = {s.ScopeItem: s.ScopeDef for s in await device.GetScopes()}
    assert scopes[LAB] == "Configurable" and scopes["onvif://www.onvif.org/Profile/Streaming"] == "Fixed"
    assert _answers(device_sim, LAB) == 1  # discovery announces what a client configured
    with pytest.raises(Fault) as fixed:
        await device.RemoveScopes({"ScopeItem": ["onvif://www.onvif.org/Profile/Streaming"]})
    assert "FixedScope" in _subcodes(fixed.value)
    await device.RemoveScopes({"ScopeItem": [LAB]})
    assert _answers(device_sim, LAB) == 0

    await device.SetDiscoveryMode({"DiscoveryMode": "NonDiscoverable"})
    assert await device.GetDiscoveryMode() == "NonDiscoverable"
    assert _answers(device_sim, None) == 0
    await device.SetDiscoveryMode({"DiscoveryMode": "Discoverable"})
    assert _answers(device_sim, None) == 1
    assert "Rebooting" in await device.SystemReboot()
    await cam.close()


async def test_network_settings_and_clock(device_sim: SimulatorHandle) -> None:
    port = device_sim.onvif_port("cam1")
    cam = ONVIFCamera("127.0.0.1", port, "admin", "admin")
    device = await cam.create_devicemgmt_service()
    await device.SetNTP({"FromDHCP": False, "NTPManual": [{"Type": "DNS", "DNSname": "pool.ntp.org"},
                                                           {"Type": "IPv4", "IPv4Address": "192.0.2.123"}]})
    ntp = await device.GetNTP()
    assert [(m.Type, m.DNSname or m.IPv4Address) for m in ntp.NTPManual] == [("DNS", "pool.ntp.org"),
                                                                             ("IPv4", "192.0.2.123")]
    await device.SetDNS({"FromDHCP": False, "SearchDomain": ["example.com"],
                         "DNSManual": [{"Type": "IPv4", "IPv4Address": "192.0.2.53"}]})
    dns = await device.GetDNS()
    assert dns.SearchDomain == ["example.com"] and dns.DNSManual[0].IPv4Address == "192.0.2.53"
    await device.SetNetworkDefaultGateway({"IPv4Address": ["192.0.2.1"]})
    assert (await device.GetNetworkDefaultGateway()).IPv4Address == ["192.0.2.1"]
    with pytest.raises(Fault) as bad_ip:
        await device.SetNetworkDefaultGateway({"IPv4Address": ["300.1.1.1"]})
    assert "InvalidIPv4Address" in _subcodes(bad_ip.value)

    await device.SetSystemDateAndTime({"DateTimeType": "Manual", "DaylightSavings": False,
                                       "UTCDateTime": {"Date": {"Year": 2031, "Month": 5, "Day": 4},
                                                       "Time": {"Hour": 3, "Minute": 2, "Second": 1}}})
    clock = await device.GetSystemDateAndTime()
    assert clock.DateTimeType == "Manual" and clock.UTCDateTime.Date.Year == 2031
    with pytest.raises(Fault, match="not authorized"):  # timestamps now far from the camera's clock
        await device.GetDeviceInformation()
    await cam.close()
    adjusted = ONVIFCamera("127.0.0.1", port, "admin", "admin", adjust_time=True)  # a client that follows it
    await adjusted.update_xaddrs()  # reads the camera's clock first
    adjusted_device = await adjusted.create_devicemgmt_service()
    assert (await adjusted_device.GetDeviceInformation()).Model
    with pytest.raises(Fault) as bad_zone:
        await adjusted_device.SetSystemDateAndTime({"DateTimeType": "NTP", "DaylightSavings": False,
                                                    "TimeZone": {"TZ": "CET-1CEST"}})
    assert "InvalidTimeZone" in _subcodes(bad_zone.value)
    await adjusted_device.SetSystemDateAndTime({"DateTimeType": "NTP", "DaylightSavings": False})
    await adjusted.close()
    plain = ONVIFCamera("127.0.0.1", port, "admin", "admin")
    assert (await (await plain.create_devicemgmt_service()).GetDeviceInformation()).Model  # host's clock again
    await plain.close()
