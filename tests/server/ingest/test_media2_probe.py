"""The server reads profiles through Media2 where the camera offers it: H.265 streams are described
there (Media cannot), with their RTSP URIs; Media2 faults keep their subcodes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from onvif import ONVIFCamera

from vms_camsim.config import CameraConfig, Codec, SimulatorConfig, StreamConfig
from vms_camsim.handle import SimulatorHandle
from vms_server.ingest.media2 import Media2Client, Media2Error, media2_address
from vms_server.ingest.probe import probe_onvif

pytestmark = pytest.mark.slow


@pytest.fixture
async def hevc() -> AsyncIterator[SimulatorHandle]:
    main = StreamConfig(codec=Codec.H265, width=320, height=176, fps=5, bitrate_kbps=200)
    sub = StreamConfig(width=160, height=96, fps=5, bitrate_kbps=100)
    cfg = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[
        CameraConfig(name="cam1", main=main, sub=sub, loop_seconds=1, ptz=False)])
    async with SimulatorHandle.start(cfg) as handle:
        yield handle


async def test_media2_profiles_and_uris(hevc: SimulatorHandle) -> None:
    camera = ONVIFCamera("127.0.0.1", hevc.onvif_port("cam1"), "admin", "admin")
    try:
        xaddr = await media2_address(await camera.create_devicemgmt_service())
    finally:
        await camera.close()
    assert xaddr is not None and xaddr.endswith("/onvif/media2_service")
    async with aiohttp.ClientSession() as http:
        profiles = await Media2Client(xaddr, "admin", "admin", http).profiles()
        assert [(p["token"], p["encoding"], p["width"]) for p in profiles] == [("main", "H265", 320),
                                                                              ("sub", "H264", 160)]
        assert profiles[0]["uri"] == hevc.rtsp_url("cam1", "main") and profiles[0]["fps"] == 5.0
        with pytest.raises(Media2Error) as refused:
            await Media2Client(xaddr, "admin", "nope", http).profiles()
        assert "NotAuthorized" in refused.value.subcodes and refused.value.status_code == 400


async def test_probe_describes_the_h265_stream(hevc: SimulatorHandle) -> None:
    found = await probe_onvif(hevc.onvif_url("cam1"), "admin", "admin")
    assert [(p["token"], p["codec"], p["height"]) for p in found["profiles"]] == [("main", "hevc", 176),
                                                                                  ("sub", "h264", 96)]
    assert found["profiles"][1]["rtsp_url"] == hevc.rtsp_url("cam1", "sub")
