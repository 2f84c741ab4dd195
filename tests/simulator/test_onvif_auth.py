"""ONVIF authentication at the HTTP level (ONVIF core: a request without a WS-Security token is taken to
use HTTP Digest, so it gets 401 and a challenge; a refused token is a NotAuthorized SOAP fault, 400)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from onvif import ONVIFCamera
from zeep.exceptions import Fault

from vms_camsim import FaultConfig, SimulatorConfig, SimulatorHandle

from .helpers import digest_header, small_camera, small_stream, soap_request

pytestmark = pytest.mark.slow

INFO = '<GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/>'
BARE = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
        f"{INFO}</s:Body></s:Envelope>").encode()


@pytest.fixture
async def auth_sim() -> AsyncIterator[SimulatorHandle]:
    config = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[
        small_camera("cam1", main=small_stream(fps=5, kbps=200), sub=None),
        small_camera("locked", main=small_stream(fps=5, kbps=200), sub=None, faults=FaultConfig(refuse_auth=True)),
    ])
    async with SimulatorHandle.start(config) as handle:
        yield handle


async def test_no_credentials_get_a_digest_challenge(auth_sim: SimulatorHandle) -> None:
    url = auth_sim.onvif_url("cam1")
    path = "/onvif/device_service"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=BARE) as response:
            assert response.status == 401
            challenge = response.headers["WWW-Authenticate"]
            assert challenge.startswith("Digest ")
            assert "ter:NotAuthorized" in await response.text()
        good = digest_header("POST", path, challenge, "admin", "admin")
        async with http.post(url, data=BARE, headers={"Authorization": good}) as response:
            assert response.status == 200
            assert "<tds:Manufacturer>VMS Simulator</tds:Manufacturer>" in await response.text()
        wrong = digest_header("POST", path, challenge, "admin", "guess")
        async with http.post(url, data=BARE, headers={"Authorization": wrong}) as response:
            assert response.status == 401 and response.headers["WWW-Authenticate"].startswith("Digest ")
        basic = aiohttp.BasicAuth("admin", "admin").encode()  # ONVIF's HTTP authentication is Digest
        async with http.post(url, data=BARE, headers={"Authorization": basic}) as response:
            assert response.status == 401
        # A refused WS-Security token stays a SOAP fault with 400, as SOAP 1.2 has it for Sender faults.
        async with http.post(url, data=soap_request(INFO, password="guess")) as response:
            assert response.status == 400 and "ter:NotAuthorized" in await response.text()
        async with http.post(url, data=soap_request(INFO)) as response:
            assert response.status == 200


async def test_refuse_auth_refuses_both_ways(auth_sim: SimulatorHandle) -> None:
    url = auth_sim.onvif_url("locked")
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=BARE) as response:
            assert response.status == 401
            good = digest_header("POST", "/onvif/device_service", response.headers["WWW-Authenticate"],
                                 "admin", "admin")
        async with http.post(url, data=BARE, headers={"Authorization": good}) as response:
            assert response.status == 401
        async with http.post(url, data=soap_request(INFO)) as response:
            assert response.status == 400 and "ter:NotAuthorized" in await response.text()


async def test_a_library_client_with_a_wrong_password_sees_not_authorized(auth_sim: SimulatorHandle) -> None:
    intruder = ONVIFCamera("127.0.0.1", auth_sim.onvif_port("cam1"), "admin", "guess")
    device = await intruder.create_devicemgmt_service()
    with pytest.raises(Fault, match="not authorized"):
        await device.GetDeviceInformation()
    await intruder.close()
