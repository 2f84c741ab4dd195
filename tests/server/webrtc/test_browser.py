"""WebRTC live view in a real headless Chromium, through a real coturn only (iceTransportPolicy "relay"): the page
takes its ICE servers from the API, posts its offer, and plays a simulator camera; frames are decoded, the
selected candidate pair is a relay one, the H.264 arrives as the camera sent it, and a second viewer adds no
camera connection. Prints the glass-to-glass latency (simulator's capture-time stamp in the picture to the
browser compositing the frame) beside what HLS gives for the same camera."""

from __future__ import annotations

import asyncio
import base64
import io
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import av
import numpy as np
import pytest

from tests.chromium import chromium
from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, wait_for
from tests.server.webrtc.conftest import camera_online
from tests.server.webrtc.coturn import Coturn
from vms_camsim.barcode import decode_stamp
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server.webrtc.keys import WEBRTC

pytestmark = pytest.mark.slow


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium(["--autoplay-policy=no-user-gesture-required"]) as launched:
        yield launched


async def _open_viewer(browser: Any, api: ApiClient, token: str, camera_id: str) -> tuple[Any, dict[str, Any]]:
    page = await browser.new_page()
    await page.goto(str(api.client.make_url("/webrtc-test.html")))
    result = await page.evaluate("([t, c]) => startView(t, c, 'sub')", [token, camera_id])
    assert result["status"] == 200, result
    return page, result["answer"]


async def _stats(page: Any) -> dict[str, Any]:
    stats: dict[str, Any] = await page.evaluate("inboundStats()")
    return stats


# The page's samples with their pixels as one base64 string each: as a JSON array of numbers, Playwright decoded
# them value by value on the event loop, freezing the server and the in-process simulator for 4-7 s.
SAMPLES = """() => window.samples.map(s => {
  let bytes = "";
  for (const v of s.rgba) bytes += String.fromCharCode(v);
  return Object.assign({}, s, {rgba: btoa(bytes)});
})"""


def _glass_to_glass_ms(samples: list[dict[str, Any]]) -> list[float]:
    """Shown time minus the capture time stamped into each picture, for the frames whose stamp reads."""
    delays = []
    for sample in samples:
        frame = np.zeros((sample["height"], sample["width"]), np.uint8)
        rgba = np.frombuffer(base64.b64decode(sample["rgba"]), np.uint8).reshape(sample["h"], sample["w"], 4)
        frame[: sample["h"], : sample["w"]] = rgba[:, :, :3].mean(axis=2).astype(np.uint8)
        stamp = decode_stamp(frame)
        if stamp is not None:
            shown = int(sample["shownMs"])
            delays.append(float(shown - stamp.capture_time_ms(shown)))
    return delays


async def _hls_delay(api: ApiClient, token: str, camera_id: str) -> tuple[float, float]:
    """(ms from the first playlist request to a playlist with a segment, how old the newest frame of the newest
    segment is once downloaded). The second is a lower bound of HLS glass-to-glass: a player also keeps its
    live-edge buffer (hls.js: 3 segments) and decodes/shows the frame later."""
    base = f"/api/v1/cameras/{camera_id}/live/hls"
    params = {"stream": "sub", "access_token": token}
    started = time.monotonic()

    async def playlist() -> str | None:
        resp = await api.call("GET", f"{base}/index.m3u8", None, params=params)
        text = await resp.text()
        return text if resp.status == 200 and ".m4s" in text else None

    await wait_for(playlist, limit=30, interval=0.05)
    first_segment_ms = (time.monotonic() - started) * 1000
    text = await wait_for(playlist)
    newest = [line for line in text.splitlines() if line and not line.startswith("#")][-1].split("?")[0]
    init = await (await api.call("GET", f"{base}/init.mp4", None, params=params)).read()
    media = await (await api.call("GET", f"{base}/{newest}", None, params=params)).read()
    now_ms = int(time.time() * 1000)
    with av.open(io.BytesIO(init + media)) as container:
        frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    # Every frame is the camera's picture (their stamps read), the newest one gives the latency. Frames after a
    # stall of the in-process simulator used to arrive without their reference pictures and decode smeared
    # (tests/server/recording/test_hls_first_segment.py).
    stamps = [decode_stamp(f) for f in frames]
    unreadable = [i for i, s in enumerate(stamps) if s is None]
    assert frames and not unreadable, f"frames {unreadable} of the HLS segment's {len(frames)} carry no readable stamp"
    stamp = stamps[-1]
    assert stamp is not None
    return first_segment_ms, float(now_ms - stamp.capture_time_ms(now_ms))


async def test_browser_plays_a_camera_through_turn_only(media_server: ApiClient, sim: SimulatorHandle, browser: Any,
                                                        coturn: Coturn) -> None:
    api = media_server
    camera_id = await add_camera(api, sim.rtsp_url("cam1", "main"), sub_url=sim.rtsp_url("cam1", "sub"))
    await wait_for(lambda: camera_online(api, camera_id), limit=30)
    assert sim.rtsp is not None
    connections = len(sim.rtsp._connections)  # main (recording) and sub
    token = (await api.login(Role.VIEWER))["access_token"]

    page, answer = await _open_viewer(browser, api, token, camera_id)
    assert answer["codec"] == "H264" and answer["passthrough"] is True

    async def decoding(page: Any, more_than: int) -> dict[str, Any] | None:
        stats = await _stats(page)
        return stats if stats["framesDecoded"] > more_than else None

    stats = await wait_for(lambda: decoding(page, 5), limit=60)
    assert stats["connection"] == "connected" and stats["codec"] == "video/H264"
    assert stats["localType"] == "relay"  # the browser reached the server through coturn only
    await wait_for(lambda: decoding(page, stats["framesDecoded"]), limit=30)  # and frames keep coming

    second, _ = await _open_viewer(browser, api, token, camera_id)
    await wait_for(lambda: decoding(second, 3), limit=60)
    assert api.client.app[WEBRTC].count == 2
    assert len(sim.rtsp._connections) == connections  # two browser viewers, still one connection per stream

    await wait_for(lambda: page.evaluate("window.samples.length >= 30"), limit=60)
    delays = _glass_to_glass_ms((await page.evaluate(SAMPLES))[10:])  # past the first GOP's catch-up
    assert len(delays) >= 5, "the frames shown are not the camera's pictures (capture stamps unreadable)"
    first_frame_ms = await page.evaluate("window.firstFrameMs")
    hls_first_ms, hls_delay_ms = await _hls_delay(api, token, camera_id)
    print(f"\nlatency, sub stream 160x120 5 fps, camera and browser on one host clock:\n"
          f"  WebRTC via TURN: glass-to-glass median {statistics.median(delays):.0f} ms "
          f"(min {min(delays):.0f}, max {max(delays):.0f}, {len(delays)} frames; the simulator's capture-time "
          f"stamp in the picture to the browser compositing it); first frame {first_frame_ms:.0f} ms after the "
          f"offer was posted\n"
          f"  HLS: newest frame {hls_delay_ms:.0f} ms old when its 1 s segment is downloaded (a lower bound of "
          f"glass-to-glass: a player adds its live-edge buffer, hls.js 3 segments); first segment listed "
          f"{hls_first_ms:.0f} ms after the first playlist request")

    session_id = answer["session_id"]
    resp = await api.call("DELETE", f"/api/v1/cameras/{camera_id}/live/webrtc/{session_id}", Role.VIEWER)
    assert resp.status == 204
    assert api.client.app[WEBRTC].count == 1
    resp = await api.call("DELETE", f"/api/v1/cameras/{camera_id}/live/webrtc/{uuid.uuid4()}", Role.VIEWER)
    assert resp.status == 404
    await second.evaluate("window.pc.close()")  # the browser hangs up: its session ends on the server too
    await wait_for(lambda: api.client.app[WEBRTC].count == 0, limit=40)
    await asyncio.gather(page.close(), second.close())
