"""The simulator shrugs off hostile input (issue 20, finding 12): odd digits, absurd nonces and durations get
an error answer, never an exception, and silent connections are closed."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from vms_camsim import SimulatorConfig, SimulatorHandle, rtsp_server
from vms_camsim.onvif.soap import parse_duration

from .helpers import RawRtsp, small_camera, soap_request


def _port(sim: SimulatorHandle) -> int:
    assert sim.rtsp is not None
    return sim.rtsp.port


async def test_rtsp_answers_odd_digits_and_huge_nonces_with_errors(sim: SimulatorHandle) -> None:
    client = await RawRtsp.connect(_port(sim))
    url = sim.rtsp_url("cam1")
    for header in ("Content-Length: \u00b2", "Content-Length: 99999999999999999999"):
        await client.send_raw(f"OPTIONS {url} RTSP/1.0\r\nCSeq: 1\r\n{header}\r\n\r\n".encode())
        assert (await client.read_response()).status == 400, header
    challenge = await client.request("DESCRIBE", url)
    digest = next(v for v in challenge.headers["www-authenticate"].split("\n") if v.startswith("Digest"))
    realm = digest.split('realm="')[1].split('"')[0]
    huge = f'Digest username="admin", realm="{realm}", nonce="{"f" * 4000}", uri="{url}", response="{"0" * 32}"'
    assert (await client.request("DESCRIBE", url, {"Authorization": huge})).status == 401
    assert (await client.request("OPTIONS", url)).status == 200  # the connection still serves
    await client.close()


async def test_a_silent_connection_is_closed(sim: SimulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rtsp_server, "SESSION_TIMEOUT_S", 0.2)  # 60 s in production
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(sim))
    assert await asyncio.wait_for(reader.read(1), 5) == b""  # closed by the server, not by this test
    writer.close()


async def test_pull_messages_with_a_bad_timeout_is_answered() -> None:
    config = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[small_camera("cam")])
    async with SimulatorHandle.start(config) as sim, aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{sim.onvif_port('cam')}"
        create = soap_request('<CreatePullPointSubscription xmlns="http://www.onvif.org/ver10/events/wsdl"/>')
        async with http.post(f"{base}/onvif/events_service", data=create) as resp:
            assert resp.status == 200
            address = (await resp.text()).split("Address>")[1].split("<")[0]
        for timeout in ("PT1.2.3S", "PT\u00b2S", "PT" + "9" * 4000 + "S"):
            pull = soap_request('<PullMessages xmlns="http://www.onvif.org/ver10/events/wsdl">'
                                f"<Timeout>{timeout}</Timeout><MessageLimit>10</MessageLimit></PullMessages>")
            async with http.post(address, data=pull) as resp:
                assert resp.status < 500, (timeout[:12], await resp.text())


def test_durations_parse_strictly() -> None:
    assert parse_duration("PT1M30S", 5.0) == 90.0 and parse_duration("P1D", 5.0) == 86400.0
    for bad in ("PT1.2.3S", "PT\u00b2S", "PT", "PTS", "PT" + "9" * 4000 + "S"):
        assert parse_duration(bad, 5.0) == 5.0, bad
