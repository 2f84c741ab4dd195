"""Encoder changes are applied, not only acknowledged: after SetVideoEncoderConfiguration (Media through
onvif-zeep-async, Media2 as raw SOAP) the RTSP stream, decoded, has the new resolution, frame rate, GOP,
bitrate and codec; a session playing the old stream is ended; settings outside the options are refused
and change nothing. Profiles created through Media2 play the encoder configuration added to them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import av
import pytest
from onvif import ONVIFCamera
from zeep.exceptions import Fault

from vms_camsim import SimulatorConfig, SimulatorHandle

from .helpers import small_camera, small_stream, soap_request

pytestmark = pytest.mark.slow

TR2 = "http://www.onvif.org/ver20/media/wsdl"


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    config = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[
        small_camera("fixed", main=small_stream(fps=10, kbps=800), sub=None, loop_seconds=2),
        small_camera("dome", ptz=True, main=small_stream(fps=5, kbps=200), sub=None),
    ])
    async with SimulatorHandle.start(config) as handle:
        yield handle


@dataclass
class Seen:
    codec: str
    size: tuple[int, int]
    fps: float
    keyframe_gap: int  # frames from one keyframe to the next
    kbps: float


def _watch_blocking(url: str, frames: int) -> Seen:
    """Decode ``frames`` pictures of the stream and measure what it carries."""
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=15) as container:
        video = container.streams.video[0]
        sizes, keys, times, count = 0, [], [], 0
        for packet in container.demux(video):
            if packet.size == 0 or packet.pts is None:
                continue
            if count == 0 and not packet.is_keyframe:
                continue
            for frame in packet.decode():
                size = (frame.width, frame.height)
            if count > 0:  # the first (key)frame is excluded from the rate: it starts the window
                sizes += packet.size
            times.append(float(packet.pts * video.time_base))
            if packet.is_keyframe:
                keys.append(count)
            count += 1
            if count == frames:
                break
        codec = video.codec_context.name
    span = times[-1] - times[0]
    return Seen(codec, size, (len(times) - 1) / span, keys[1] - keys[0] if len(keys) > 1 else 0,
                sizes * 8 / 1000 / span)


async def _media2(sim: SimulatorHandle, camera: str, body: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{sim.onvif_port(camera)}/onvif/media2_service"
    async with aiohttp.ClientSession() as http, http.post(url, data=soap_request(body)) as response:
        return response.status, await response.text()


async def test_media_encoder_change_reaches_the_stream(sim: SimulatorHandle) -> None:
    url = sim.rtsp_url("fixed", with_credentials=True)
    before = await asyncio.to_thread(_watch_blocking, url, 31)
    assert (before.codec, before.size, before.keyframe_gap) == ("h264", (320, 176), 10)
    assert before.fps == pytest.approx(10, rel=0.05)

    cam = ONVIFCamera("127.0.0.1", sim.onvif_port("fixed"), "admin", "admin")
    await cam.update_xaddrs()
    media = await cam.create_media_service()
    try:
        options = await media.GetVideoEncoderConfigurationOptions({"ConfigurationToken": "vec_main"})
        sizes = [(r.Width, r.Height) for r in options.H264.ResolutionsAvailable]
        assert sizes == [(320, 176), (160, 96)]
        vec = await media.GetVideoEncoderConfiguration({"ConfigurationToken": "vec_main"})
        vec.Resolution.Width, vec.Resolution.Height = 160, 96
        vec.RateControl.FrameRateLimit, vec.RateControl.BitrateLimit, vec.H264.GovLength = 5, 100, 10
        playing = asyncio.create_task(asyncio.to_thread(_watch_blocking, url, 10_000))
        await asyncio.sleep(3)  # the old session is playing
        await media.SetVideoEncoderConfiguration({"Configuration": vec, "ForcePersistence": True})
        # the session on the old stream is ended (its client would reconnect) rather than left stalled
        await asyncio.wait_for(asyncio.shield(playing), 30)
        read = await media.GetVideoEncoderConfiguration({"ConfigurationToken": "vec_main"})
        assert (read.Resolution.Width, read.RateControl.FrameRateLimit, read.RateControl.BitrateLimit) == (160, 5, 100)

        after = await asyncio.to_thread(_watch_blocking, url, 31)
        assert (after.codec, after.size, after.keyframe_gap) == ("h264", (160, 96), 10)
        assert after.fps == pytest.approx(5, rel=0.05)
        assert after.kbps < before.kbps / 3, (before.kbps, after.kbps)  # 100 kbit/s asked, 800 before

        vec.Resolution.Width, vec.Resolution.Height = 1920, 1080  # larger than the camera's picture
        with pytest.raises(Fault, match="not offered"):
            await media.SetVideoEncoderConfiguration({"Configuration": vec, "ForcePersistence": True})
        vec.Resolution.Width, vec.Resolution.Height, vec.RateControl.FrameRateLimit = 160, 96, 99
        with pytest.raises(Fault, match="FrameRateLimit"):
            await media.SetVideoEncoderConfiguration({"Configuration": vec, "ForcePersistence": True})
        read = await media.GetVideoEncoderConfiguration({"ConfigurationToken": "vec_main"})
        assert (read.Resolution.Width, read.RateControl.FrameRateLimit) == (160, 5)
    finally:
        await cam.close()


async def test_media2_switches_to_h265_and_back(sim: SimulatorHandle) -> None:
    status, text = await _media2(sim, "fixed", f'<GetVideoEncoderConfigurationOptions xmlns="{TR2}">'
                                 "<ConfigurationToken>vec_main</ConfigurationToken>"
                                 "</GetVideoEncoderConfigurationOptions>")
    assert status == 200 and "<tt:Encoding>H265</tt:Encoding>" in text, text
    change = (f'<SetVideoEncoderConfiguration xmlns="{TR2}"><Configuration token="vec_main" GovLength="{{gov}}">'
              '<Name xmlns="http://www.onvif.org/ver10/schema">main</Name>'
              '<Encoding xmlns="http://www.onvif.org/ver10/schema">{codec}</Encoding>'
              "</Configuration></SetVideoEncoderConfiguration>")
    status, text = await _media2(sim, "fixed", change.format(codec="H265", gov=20))
    assert status == 200 and "SetVideoEncoderConfigurationResponse" in text, text
    seen = await asyncio.to_thread(_watch_blocking, sim.rtsp_url("fixed", with_credentials=True), 25)
    assert (seen.codec, seen.size, seen.keyframe_gap) == ("hevc", (320, 176), 20)
    status, text = await _media2(sim, "fixed", f'<GetProfiles xmlns="{TR2}"><Type>VideoEncoder</Type></GetProfiles>')
    assert "<tt:Encoding>H265</tt:Encoding>" in text and 'GovLength="20"' in text

    status, text = await _media2(sim, "fixed", change.format(codec="MPEG4", gov=20))
    assert status == 400 and "ter:ConfigModify" in text
    status, text = await _media2(sim, "fixed", change.format(codec="H264", gov=10))
    assert status == 200
    seen = await asyncio.to_thread(_watch_blocking, sim.rtsp_url("fixed", with_credentials=True), 12)
    assert (seen.codec, seen.keyframe_gap) == ("h264", 10)


async def test_ptz_camera_live_encoder_change(sim: SimulatorHandle) -> None:
    status, text = await _media2(sim, "dome", f'<SetVideoEncoderConfiguration xmlns="{TR2}">'
                                 '<Configuration token="vec_main"><Resolution xmlns="http://www.onvif.org/ver10/schema">'
                                 "<Width>160</Width><Height>96</Height></Resolution></Configuration>"
                                 "</SetVideoEncoderConfiguration>")
    assert status == 200, text
    seen = await asyncio.to_thread(_watch_blocking, sim.rtsp_url("dome", with_credentials=True), 6)
    assert seen.size == (160, 96)


async def test_media2_profiles(sim: SimulatorHandle) -> None:
    ref = '<Configuration><Type>{}</Type><Token>{}</Token></Configuration>'
    status, text = await _media2(sim, "fixed", f'<CreateProfile xmlns="{TR2}"><Name>T client</Name>'
                                 f'{ref.format("VideoSource", "vsc0")}</CreateProfile>')
    assert status == 200, text
    token = text.split("Token>")[1].split("<")[0]
    status, text = await _media2(sim, "fixed", f'<GetStreamUri xmlns="{TR2}"><Protocol>RtspUnicast</Protocol>'
                                 f"<ProfileToken>{token}</ProfileToken></GetStreamUri>")
    assert status == 500 and "IncompleteConfiguration" in text  # no encoder yet
    status, text = await _media2(sim, "fixed", f'<AddConfiguration xmlns="{TR2}"><ProfileToken>{token}</ProfileToken>'
                                 f'{ref.format("VideoEncoder", "vec_main")}</AddConfiguration>')
    assert status == 200, text
    status, text = await _media2(sim, "fixed", f'<GetStreamUri xmlns="{TR2}"><Protocol>RtspUnicast</Protocol>'
                                 f"<ProfileToken>{token}</ProfileToken></GetStreamUri>")
    assert status == 200 and "/fixed/main" in text, text
    status, text = await _media2(sim, "fixed", f'<GetProfiles xmlns="{TR2}"><Type>All</Type></GetProfiles>')
    assert f'token="{token}" fixed="false"' in text and "<tr2:Name>T client</tr2:Name>" in text
    status, text = await _media2(sim, "fixed", f'<RemoveConfiguration xmlns="{TR2}"><ProfileToken>main</ProfileToken>'
                                 f'{ref.format("VideoEncoder", "vec_main")}</RemoveConfiguration>')
    assert status == 500 and "ConfigurationConflict" in text
    status, text = await _media2(sim, "fixed", f'<RemoveConfiguration xmlns="{TR2}"><ProfileToken>{token}'
                                 f'</ProfileToken>{ref.format("VideoEncoder", "vec_main")}</RemoveConfiguration>')
    assert status == 200
    status, text = await _media2(sim, "fixed", f'<DeleteProfile xmlns="{TR2}"><Token>main</Token></DeleteProfile>')
    assert status == 500 and "DeletionOfFixedProfile" in text
    status, text = await _media2(sim, "fixed", f'<DeleteProfile xmlns="{TR2}"><Token>{token}</Token></DeleteProfile>')
    assert status == 200
    status, text = await _media2(sim, "fixed", f'<GetProfiles xmlns="{TR2}"/>')
    assert token not in text


async def test_factory_default_restores_the_configured_stream(sim: SimulatorHandle) -> None:
    status, text = await _media2(sim, "fixed", f'<SetVideoEncoderConfiguration xmlns="{TR2}">'
                                 '<Configuration token="vec_main"><Resolution xmlns="http://www.onvif.org/ver10/schema">'
                                 "<Width>160</Width><Height>96</Height></Resolution></Configuration>"
                                 "</SetVideoEncoderConfiguration>")
    assert status == 200, text
    url = f"http://127.0.0.1:{sim.onvif_port('fixed')}/onvif/device_service"
    body = ('<SetSystemFactoryDefault xmlns="http://www.onvif.org/ver10/device/wsdl">'
            "<FactoryDefault>Soft</FactoryDefault></SetSystemFactoryDefault>")
    async with aiohttp.ClientSession() as http, http.post(url, data=soap_request(body)) as response:
        assert response.status == 200, await response.text()
    assert sim.camera("fixed").feeds["main"].stream == sim.camera("fixed").config.main
    seen = await asyncio.to_thread(_watch_blocking, sim.rtsp_url("fixed", with_credentials=True), 3)
    assert seen.size == (320, 176)
