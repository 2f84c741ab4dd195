"""ONVIF through onvif-zeep-async: device and media calls, PTZ that moves the picture, events, auth."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import time
from collections.abc import AsyncIterator

import aiohttp
import av
import cv2
import numpy as np
import pytest
from onvif import ONVIFCamera
from zeep.exceptions import Fault

from vms_camsim import SceneKind, SimulatorConfig, SimulatorHandle, decode_stamp

from .helpers import small_camera, small_stream

pytestmark = pytest.mark.slow


@pytest.fixture
async def onvif_sim() -> AsyncIterator[SimulatorHandle]:
    config = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[
        small_camera("fixed", scene=SceneKind.TAMPER, loop_seconds=4),
        small_camera("dome", ptz=True, main=small_stream(fps=10, kbps=300), sub=None),
    ])
    async with SimulatorHandle.start(config) as handle:
        yield handle


@pytest.fixture
async def camera(onvif_sim: SimulatorHandle) -> AsyncIterator[ONVIFCamera]:
    cam = ONVIFCamera("127.0.0.1", onvif_sim.onvif_port("fixed"), "admin", "admin")
    await cam.update_xaddrs()
    yield cam
    await cam.close()


async def test_device_and_media_services(onvif_sim: SimulatorHandle, camera: ONVIFCamera) -> None:
    device = await camera.create_devicemgmt_service()
    info = await device.GetDeviceInformation()
    assert info.Manufacturer == "VMS Simulator" and info.SerialNumber == "SIM-FIXED"
    clock = await device.GetSystemDateAndTime()
    assert clock.UTCDateTime.Date.Year == dt.datetime.now(dt.UTC).year
    caps = await device.GetCapabilities({"Category": "All"})
    assert caps.Media.XAddr.endswith("/onvif/media_service")
    interfaces = await device.GetNetworkInterfaces()
    assert interfaces[0].IPv4.Config.Manual[0].Address == "127.0.0.1"
    scopes = [s.ScopeItem for s in await device.GetScopes()]
    assert "onvif://www.onvif.org/Profile/Streaming" in scopes
    media = await camera.create_media_service()
    profiles = await media.GetProfiles()
    assert [p.token for p in profiles] == ["main", "sub"]
    assert profiles[0].VideoEncoderConfiguration.Resolution.Width == 320
    uri = await media.GetStreamUri({"ProfileToken": "sub", "StreamSetup": {
        "Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}})
    assert uri.Uri == onvif_sim.rtsp_url("fixed", "sub")
    with pytest.raises(Fault, match="no profile"):
        await media.GetStreamUri({"ProfileToken": "nope", "StreamSetup": {
            "Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}})


async def test_snapshot_is_a_real_jpeg(onvif_sim: SimulatorHandle, camera: ONVIFCamera) -> None:
    data = await camera.get_snapshot("main")
    assert data is not None and data[:2] == b"\xff\xd8"
    picture = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None
    assert picture.shape == (176, 320, 3)
    stamp = decode_stamp(picture)  # the snapshot is the picture on air right now
    assert stamp is not None and stamp.latency_ms(int(time.time() * 1000)) < 1000
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{onvif_sim.onvif_port('fixed')}/onvif/snapshot/main.jpg"
        async with http.get(url) as response:
            assert response.status == 401


async def test_wrong_password_is_not_authorized(onvif_sim: SimulatorHandle) -> None:
    intruder = ONVIFCamera("127.0.0.1", onvif_sim.onvif_port("fixed"), "admin", "guess")
    device = await intruder.create_devicemgmt_service()
    with pytest.raises(Fault, match="not authorized"):
        await device.GetDeviceInformation()
    assert (await device.GetSystemDateAndTime()).UTCDateTime  # allowed without auth, per ONVIF
    await intruder.close()


async def test_bad_soap_gets_faults(onvif_sim: SimulatorHandle) -> None:
    url = onvif_sim.onvif_url("fixed")
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=b"<not xml") as response:
            assert response.status == 400
            assert "ter:WellFormed" in await response.text()
        envelope = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
                    '<Reboot xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>')
        async with http.post(url, data=envelope.encode()) as response:
            assert response.status == 500
            assert "ter:ActionNotSupported" in await response.text()
    # Still serving.
    cam = ONVIFCamera("127.0.0.1", onvif_sim.onvif_port("fixed"), "admin", "admin")
    assert (await (await cam.create_devicemgmt_service()).GetDeviceInformation()).Model
    await cam.close()


async def test_motion_and_tamper_events(camera: ONVIFCamera) -> None:
    manager = await camera.create_pullpoint_manager(dt.timedelta(seconds=60), lambda: None)
    service = manager.get_service()
    seen: dict[str, list[str]] = {}
    for _ in range(6):  # the 4 s tamper loop has motion changes and a cover/defocus/redirect
        messages = await service.PullMessages({"MessageLimit": 20, "Timeout": dt.timedelta(seconds=2)})
        for message in messages.NotificationMessage:
            value = message.Message._value_1.Data.SimpleItem[0].Value
            seen.setdefault(message.Topic._value_1, []).append(value)
        if len(seen.get("tns1:VideoSource/MotionAlarm", [])) >= 2 and \
                "true" in seen.get("tns1:VideoSource/GlobalSceneChange/ImagingService", []):
            break
    assert "true" in seen["tns1:VideoSource/MotionAlarm"]
    assert "true" in seen["tns1:VideoSource/GlobalSceneChange/ImagingService"]
    subscription = await camera.create_subscription_service("PullPointSubscription")
    renewed = await subscription.Renew("PT120S")
    assert renewed.TerminationTime > renewed.CurrentTime + dt.timedelta(seconds=100)
    await service.SetSynchronizationPoint()
    again = await service.PullMessages({"MessageLimit": 20, "Timeout": dt.timedelta(seconds=1)})
    assert {m.Message._value_1.PropertyOperation for m in again.NotificationMessage} == {"Initialized"}
    await manager.shutdown()  # Unsubscribe
    with pytest.raises(Fault, match="no such subscription"):
        await service.PullMessages({"MessageLimit": 20, "Timeout": dt.timedelta(seconds=1)})


def _grab_frames_blocking(url: str, count: int) -> list[np.ndarray]:
    frames = []
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=10) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) >= count:
                break
    return frames


async def test_ptz_moves_the_picture(onvif_sim: SimulatorHandle) -> None:
    import asyncio

    cam = ONVIFCamera("127.0.0.1", onvif_sim.onvif_port("dome"), "admin", "admin")
    await cam.update_xaddrs()
    ptz = await cam.create_ptz_service()
    url = onvif_sim.rtsp_url("dome", with_credentials=True)
    before = (await asyncio.to_thread(_grab_frames_blocking, url, 3))[-1]
    start = await ptz.GetStatus({"ProfileToken": "main"})
    await ptz.ContinuousMove({"ProfileToken": "main", "Velocity": {"PanTilt": {"x": 1.0, "y": 0.5},
                                                                   "Zoom": {"x": 1.0}}})
    await asyncio.sleep(0.6)
    moving = await ptz.GetStatus({"ProfileToken": "main"})
    assert moving.MoveStatus.PanTilt == "MOVING"
    await ptz.Stop({"ProfileToken": "main"})
    stopped = await ptz.GetStatus({"ProfileToken": "main"})
    assert stopped.MoveStatus.PanTilt == "IDLE"
    assert stopped.Position.PanTilt.x > start.Position.PanTilt.x + 0.2
    assert stopped.Position.Zoom.x > start.Position.Zoom.x + 0.2
    after = (await asyncio.to_thread(_grab_frames_blocking, url, 3))[-1]
    # Ignore the stamp/clock rows; compare the scene itself.
    diff = np.abs(before[40:150].astype(int) - after[40:150].astype(int)).mean()
    assert diff > 10, f"the view did not change (mean abs diff {diff:.1f})"
    assert decode_stamp(after) is not None
    token = await ptz.SetPreset({"ProfileToken": "main", "PresetName": "gate"})
    await ptz.AbsoluteMove({"ProfileToken": "main", "Position": {"PanTilt": {"x": -1.0, "y": -1.0},
                                                                 "Zoom": {"x": 0.0}}})
    with pytest.raises(Fault, match="outside the limits"):
        await ptz.AbsoluteMove({"ProfileToken": "main", "Position": {"PanTilt": {"x": 3.0, "y": 0.0}}})
    await asyncio.sleep(0.2)
    await ptz.GotoPreset({"ProfileToken": "main", "PresetToken": token})
    presets = await ptz.GetPresets({"ProfileToken": "main"})
    assert [p.Name for p in presets] == ["gate"]
    await ptz.RemovePreset({"ProfileToken": "main", "PresetToken": token})
    assert await ptz.GetPresets({"ProfileToken": "main"}) == []
    await cam.close()


def _digest_request(username: str, password: str) -> bytes:
    nonce = os.urandom(16)
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
    wsse = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    wsu = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
    kind = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
    return (f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>'
            f'<Security xmlns="{wsse}"><UsernameToken><Username>{username}</Username>'
            f'<Password Type="{kind}">{digest}</Password><Nonce>{base64.b64encode(nonce).decode()}</Nonce>'
            f'<Created xmlns="{wsu}">{created}</Created></UsernameToken></Security></s:Header><s:Body>'
            '<GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>').encode()


async def test_a_replayed_digest_is_refused(onvif_sim: SimulatorHandle) -> None:
    """A captured request with a valid digest works once; sent again (same nonce) it is refused."""
    url = onvif_sim.onvif_url("fixed")
    request = _digest_request("admin", "admin")
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=request) as response:
            assert response.status == 200 and "GetDeviceInformationResponse" in await response.text()
        async with http.post(url, data=request) as response:
            assert response.status == 400 and "ter:NotAuthorized" in await response.text()
        async with http.post(url, data=_digest_request("admin", "admin")) as response:
            assert response.status == 200  # a fresh nonce is fine
