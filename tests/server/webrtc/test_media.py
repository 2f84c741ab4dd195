"""What a WebRTC viewer receives, checked with aiortc as the viewer (in-process, host candidates): the H.264
passthrough carries the camera's own pictures, a viewer without H.264 gets VP8 transcoded from them, and a
viewer with neither codec is refused with 422."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from tests.server.helpers import ApiClient
from tests.server.recording.conftest import SMALL_SUB, add_camera, camera, wait_for
from tests.server.webrtc.conftest import camera_online, recvonly_peer
from vms_camsim.barcode import decode_stamp
from vms_camsim.config import Codec, SimulatorConfig
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server.webrtc.keys import WEBRTC

pytestmark = pytest.mark.slow


async def _viewer(api: ApiClient, camera_id: str, codec: str) -> tuple[RTCPeerConnection, Any, dict[str, Any]]:
    pc = recvonly_peer(codec)
    received: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    pc.on("track", received.set_result)
    await pc.setLocalDescription(await pc.createOffer())
    answer = await api.ok("POST", f"/api/v1/cameras/{camera_id}/live/webrtc", Role.VIEWER,
                          json={"sdp": pc.localDescription.sdp, "stream": "sub"})
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    return pc, await asyncio.wait_for(received, 30), answer


async def _stamped_frames(track: Any, wanted: int) -> int:
    """Receive frames until `wanted` of them carry the simulator's readable capture stamp (its own pictures)."""
    stamped = 0
    for _ in range(wanted * 10):
        frame = await asyncio.wait_for(track.recv(), 30)
        if decode_stamp(frame.to_ndarray(format="gray")) is not None:
            stamped += 1
            if stamped == wanted:
                break
    return stamped


async def test_passthrough_transcoding_and_refusal(media_server: ApiClient, sim: SimulatorHandle) -> None:
    api = media_server
    camera_id = await add_camera(api, sim.rtsp_url("cam1", "main"), sub_url=sim.rtsp_url("cam1", "sub"))
    await wait_for(lambda: camera_online(api, camera_id), limit=30)
    sessions = api.client.app[WEBRTC]

    h264, h264_track, answer = await _viewer(api, camera_id, "H264")
    vp8, vp8_track, vp8_answer = await _viewer(api, camera_id, "VP8")
    try:
        assert (answer["codec"], answer["passthrough"]) == ("H264", True)
        assert (vp8_answer["codec"], vp8_answer["passthrough"]) == ("VP8", False)
        assert "H264/90000" in answer["sdp"] and "VP8" not in answer["sdp"]
        assert "VP8/90000" in vp8_answer["sdp"] and "H264" not in vp8_answer["sdp"]
        assert await _stamped_frames(h264_track, 5) == 5
        assert await _stamped_frames(vp8_track, 5) == 5
        passthrough = [s for s in sessions._sessions.values() if s.passthrough]
        assert len(passthrough) == 1 and sessions.count == 2

        vp9 = recvonly_peer("VP8")
        await vp9.setLocalDescription(await vp9.createOffer())
        await vp9.close()
        offer = vp9.localDescription.sdp.replace("VP8/90000", "VP9/90000")  # a browser with VP9 only
        resp = await api.call("POST", f"/api/v1/cameras/{camera_id}/live/webrtc", Role.VIEWER,
                              json={"sdp": offer, "stream": "sub"})
        assert resp.status == 422 and (await resp.json())["error"]["code"] == "webrtc_codec"
    finally:
        await asyncio.gather(h264.close(), vp8.close())
    await wait_for(lambda: sessions.count == 0, limit=40)  # the viewers hung up: their sessions end



async def test_an_h265_camera_is_transcoded_for_an_h264_browser(media_server: ApiClient) -> None:
    """H.265 cannot be passed to a browser: even a viewer that offers H.264 gets VP8 made from its pictures."""
    api = media_server
    h265 = camera(sub=SMALL_SUB.model_copy(update={"codec": Codec.H265}))
    async with SimulatorHandle.start(SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[h265])) as sim:
        camera_id = await add_camera(api, sim.rtsp_url("cam1", "main"), sub_url=sim.rtsp_url("cam1", "sub"))
        await wait_for(lambda: camera_online(api, camera_id), limit=30)
        pc = recvonly_peer()  # H.264 and VP8, as browsers offer
        try:
            received: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
            pc.on("track", received.set_result)
            await pc.setLocalDescription(await pc.createOffer())
            answer = await api.ok("POST", f"/api/v1/cameras/{camera_id}/live/webrtc", Role.VIEWER,
                                  json={"sdp": pc.localDescription.sdp, "stream": "sub"})
            assert (answer["codec"], answer["passthrough"]) == ("VP8", False)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
            assert await _stamped_frames(await asyncio.wait_for(received, 30), 3) == 3
        finally:
            await pc.close()
