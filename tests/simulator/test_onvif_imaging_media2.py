"""Imaging (through onvif-zeep-async) and Media2 (raw SOAP: neither ONVIF client library ships a Media2
WSDL): settings read back as set, focus that travels, H.265 profiles and their RTSP URLs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from xml.etree import ElementTree as ET

import aiohttp
import pytest
from onvif import ONVIFCamera
from zeep.exceptions import Fault

from vms_camsim import Codec, SimulatorConfig, SimulatorHandle

from .helpers import small_camera, small_stream, soap_request

pytestmark = pytest.mark.slow

TR2 = "http://www.onvif.org/ver20/media/wsdl"
TT = "{http://www.onvif.org/ver10/schema}"


@pytest.fixture
async def cams() -> AsyncIterator[SimulatorHandle]:
    config = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[
        small_camera("hevc", Codec.H265, sub=small_stream(Codec.H264, 160, 96, 5, 150)),
        small_camera("dome", ptz=True, main=small_stream(fps=5, kbps=200), sub=None),
    ])
    async with SimulatorHandle.start(config) as handle:
        yield handle


async def test_imaging_settings_and_focus(cams: SimulatorHandle) -> None:
    cam = ONVIFCamera("127.0.0.1", cams.onvif_port("hevc"), "admin", "admin")
    await cam.update_xaddrs()
    imaging = await cam.create_imaging_service()
    source = {"VideoSourceToken": "vsrc0"}
    options = await imaging.GetOptions(source)
    assert (options.Brightness.Min, options.Brightness.Max) == (0, 100)
    assert set(options.IrCutFilterModes) == {"ON", "OFF", "AUTO"}
    settings = await imaging.GetImagingSettings(source)
    assert settings.Brightness == 50 and settings.IrCutFilter == "AUTO"
    await imaging.SetImagingSettings({**source, "ImagingSettings": {"Brightness": 72.5, "IrCutFilter": "OFF"}})
    settings = await imaging.GetImagingSettings(source)
    assert settings.Brightness == 72.5 and settings.IrCutFilter == "OFF"
    with pytest.raises(Fault, match="outside"):
        await imaging.SetImagingSettings({**source, "ImagingSettings": {"Brightness": 101, "IrCutFilter": "ON"}})
    assert (await imaging.GetImagingSettings(source)).IrCutFilter == "OFF"  # all or nothing
    with pytest.raises(Fault, match="cannot be set"):
        await imaging.SetImagingSettings({**source, "ImagingSettings": {"Contrast": 10}})
    with pytest.raises(Fault, match="no video source"):
        await imaging.GetImagingSettings({"VideoSourceToken": "nope"})

    start = (await imaging.GetStatus(source)).FocusStatus20.Position
    await imaging.Move({**source, "Focus": {"Continuous": {"Speed": 1.0}}})
    await asyncio.sleep(0.3)
    moving = await imaging.GetStatus(source)
    assert moving.FocusStatus20.MoveStatus == "MOVING"
    await imaging.Stop(source)
    stopped = await imaging.GetStatus(source)
    assert stopped.FocusStatus20.MoveStatus == "IDLE" and stopped.FocusStatus20.Position > start + 0.05
    await imaging.Move({**source, "Focus": {"Absolute": {"Position": 0.2, "Speed": 1.0}}})
    for _ in range(50):  # 0.5 focus-units/s at full speed: well under 5 s
        status = await imaging.GetStatus(source)
        if status.FocusStatus20.MoveStatus == "IDLE":
            break
        await asyncio.sleep(0.1)
    assert status.FocusStatus20.Position == pytest.approx(0.2, abs=1e-3)
    moves = await imaging.GetMoveOptions(source)
    assert moves.Continuous.Speed.Min == -1
    await cam.close()


async def _media2(sim: SimulatorHandle, camera: str, body: str) -> tuple[int, ET.Element]:
    url = f"http://127.0.0.1:{sim.onvif_port(camera)}/onvif/media2_service"
    async with aiohttp.ClientSession() as http, http.post(url, data=soap_request(body)) as response:
        return response.status, ET.fromstring(await response.read())


async def test_media2_offers_h265_and_stream_uris(cams: SimulatorHandle) -> None:
    cam = ONVIFCamera("127.0.0.1", cams.onvif_port("hevc"), "admin", "admin")
    device = await cam.create_devicemgmt_service()
    services = {s.Namespace: s.XAddr for s in await device.GetServices({"IncludeCapability": False})}
    assert services[TR2].endswith("/onvif/media2_service")
    await cam.close()

    status, root = await _media2(cams, "hevc", f'<GetProfiles xmlns="{TR2}"><Type>All</Type></GetProfiles>')
    assert status == 200
    profiles = root.findall(f".//{{{TR2}}}Profiles")
    assert [p.get("token") for p in profiles] == ["main", "sub"]
    encodings = [p.findtext(f".//{{{TR2}}}VideoEncoder/{TT}Encoding") for p in profiles]
    assert encodings == ["H265", "H264"]
    main_encoder = profiles[0].find(f".//{{{TR2}}}VideoEncoder")
    assert main_encoder is not None and main_encoder.findtext(f"{TT}Resolution/{TT}Width") == "320"
    _, bare = await _media2(cams, "hevc", f'<GetProfiles xmlns="{TR2}"/>')
    assert bare.find(f".//{{{TR2}}}VideoEncoder") is None  # no Type asked: names only
    for token in ("main", "sub"):
        body = f'<GetStreamUri xmlns="{TR2}"><Protocol>RtspUnicast</Protocol><ProfileToken>{token}</ProfileToken>'
        status, root = await _media2(cams, "hevc", body + "</GetStreamUri>")
        assert status == 200 and root.findtext(f".//{{{TR2}}}Uri") == cams.rtsp_url("hevc", token)
    status, root = await _media2(cams, "hevc", f'<GetStreamUri xmlns="{TR2}"><Protocol>RtspMulticast</Protocol>'
                                 "<ProfileToken>main</ProfileToken></GetStreamUri>")
    assert status == 400 and "InvalidStreamSetup" in ET.tostring(root, encoding="unicode")
    _, options = await _media2(cams, "hevc", f'<GetVideoEncoderConfigurationOptions xmlns="{TR2}">'
                               "<ProfileToken>main</ProfileToken></GetVideoEncoderConfigurationOptions>")
    assert options.findtext(f".//{{{TR2}}}Options/{TT}Encoding") == "H265"
    _, dome = await _media2(cams, "dome", f'<GetProfiles xmlns="{TR2}"><Type>PTZ</Type></GetProfiles>')
    ptz = dome.find(f".//{{{TR2}}}PTZ")
    assert ptz is not None and ptz.findtext(f"{TT}NodeToken") == "node0"
    assert dome.find(f".//{{{TR2}}}VideoEncoder") is None
