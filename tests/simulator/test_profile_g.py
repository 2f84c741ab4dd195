"""Edge storage (ONVIF Profile G) of the simulator: the card, RTSP replay of a clock range, the network switch.

The replay is read with the server's own replay client (vms_server.recording.edge_replay), the one gap fill
uses; the refusals with the raw client, to send exactly the headers a camera must refuse."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from vms_camsim import AuthMode, SimulatorConfig, SimulatorHandle
from vms_camsim.handle import spawn_simulator
from vms_camsim.rtsp_replay import clock_text
from vms_server.recording.edge_replay import Picture, ReplayError, replay

from .helpers import RawRtsp, small_camera

FPS = 25


@pytest.fixture
async def carded() -> AsyncIterator[SimulatorHandle]:
    """One camera with a 1-minute card (2 s loop, one keyframe a second) and one PTZ camera (no card)."""
    config = SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[
        small_camera("cam1", auth=AuthMode.NONE, card_minutes=1),
        small_camera("ptz", auth=AuthMode.NONE, ptz=True)])
    async with SimulatorHandle.start(config) as handle:
        yield handle


async def _replay(url: str, start: float, end: float) -> list[Picture]:
    return [p async for _codec, p in replay(url, (None, None), int(start * 1e6), int(end * 1e6))]


async def test_replay_of_a_range_starts_on_a_keyframe_and_runs_faster_than_real_time(
        carded: SimulatorHandle) -> None:
    assert carded.camera("cam1").card is not None and carded.camera("ptz").card is None
    await asyncio.sleep(4.5)  # the card holds what it recorded since the start
    url = carded.rtsp_url("cam1", "replay")
    end = time.time() - 0.5
    start = end - 3.0
    began = time.monotonic()
    pictures = await _replay(url, start, end)
    took = time.monotonic() - began
    assert pictures[0].keyframe
    times = [p.at_us / 1e6 for p in pictures]
    assert times == sorted(times) and len(set(times)) == len(times)
    # From the keyframe at or before the start (at most one GOP earlier) to the last picture before the end.
    assert start - 1.0 - 1 / FPS <= times[0] <= start + 1e-3
    assert end - 2 / FPS <= times[-1] < end
    assert len(pictures) == round((times[-1] - times[0]) * FPS) + 1
    assert sum(p.keyframe for p in pictures) >= 3
    assert took < end - start  # Rate-Control: no


async def test_replay_refuses_what_it_cannot_do(carded: SimulatorHandle) -> None:
    await asyncio.sleep(2.5)  # so that the card holds the range played at the end
    url = carded.rtsp_url("cam1", "replay")
    with pytest.raises(ReplayError, match="457"):  # the card does not hold last year
        await _replay(url, time.time() - 366 * 86400, time.time() - 365 * 86400)
    assert carded.rtsp is not None
    rtsp = await RawRtsp.connect(carded.rtsp.port)
    try:
        assert (await rtsp.request("DESCRIBE", url, {"Require": "onvif-replay"})).status == 200
        assert (await rtsp.request("DESCRIBE", url, {"Require": "funky-ext"})).status == 551
        udp = await rtsp.request("SETUP", url + "/trackID=0", {"Transport": "RTP/AVP;unicast;client_port=5000-5001"})
        assert udp.status == 461
        setup = await rtsp.request("SETUP", url + "/trackID=0", {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
        session = setup.headers["session"].split(";")[0]
        now = time.time()
        for headers in ({"Range": "npt=0-"}, {"Range": f"clock={clock_text(now - 1)}-{clock_text(now - 2)}"},
                        {"Scale": "-1"}, {"Scale": "nan"}):
            assert (await rtsp.request("PLAY", url, {"Session": session, **headers})).status == 457, headers
        play = await rtsp.request("PLAY", url, {"Session": session, "Scale": "2",
                                                "Range": f"clock={clock_text(now - 2)}-{clock_text(now - 1)}"})
        assert play.status == 200 and play.headers["scale"] == "2" and play.headers["rate-control"] == "yes"
        assert play.headers["range"].startswith("clock=")
    finally:
        await rtsp.close()
    assert carded.rtsp is not None
    ptz = await RawRtsp.connect(carded.rtsp.port)
    try:
        assert (await ptz.request("DESCRIBE", carded.rtsp_url("ptz", "main").rsplit("/", 1)[0] + "/replay")
                ).status == 404
    finally:
        await ptz.close()


async def test_a_camera_off_the_network_answers_nothing_but_keeps_its_card(carded: SimulatorHandle) -> None:
    assert carded.rtsp is not None
    carded.set_network("cam1", up=False)
    rtsp = await RawRtsp.connect(carded.rtsp.port)
    try:
        with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
            await rtsp.request("DESCRIBE", carded.rtsp_url("cam1", "main"))
    finally:
        await rtsp.close()
    await asyncio.sleep(3.0)
    carded.set_network("cam1", up=True)
    card = carded.camera("cam1").card
    assert card is not None
    # A second of the outage (a whole second after the card's start, so its keyframe is on the card).
    down_then = card.started + 1.2
    pictures = await _replay(carded.rtsp_url("cam1", "replay"), down_then, down_then + 1.0)
    assert pictures[0].keyframe and len(pictures) >= FPS  # the card recorded through the outage


async def test_a_simulator_process_takes_its_network_control_file(tmp_path: Path) -> None:
    """`vms-camsim --network-control FILE` (what spawn_simulator passes): SimulatorProcess.set_network drops
    the camera in the child and brings it back."""
    config = SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[small_camera("cam1", auth=AuthMode.NONE)])
    child = await asyncio.to_thread(spawn_simulator, config, tmp_path / "sim")
    try:
        url = child.rtsp_url("cam1")
        port = int(url.split(":")[2].split("/")[0])

        async def describe() -> int | None:
            rtsp = await RawRtsp.connect(port)
            try:
                return (await rtsp.request("DESCRIBE", url)).status
            except (asyncio.IncompleteReadError, ConnectionError):
                return None
            finally:
                await rtsp.close()

        assert await describe() == 200
        child.set_network("cam1", up=False)
        assert await _eventually(describe, None)
        child.set_network("cam1", up=True)
        assert await _eventually(describe, 200)
    finally:
        await asyncio.to_thread(child.stop)


async def _eventually(probe: Callable[[], Awaitable[int | None]], wanted: int | None) -> bool:
    for _ in range(40):  # the child reads the file twice a second; 10 s on a loaded machine
        if await probe() == wanted:
            return True
        await asyncio.sleep(0.25)
    return False
