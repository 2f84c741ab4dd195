"""Profile S management operations of the simulator: users (and that they really authenticate, by
WS-Security and by HTTP Digest, and stop when deleted), user levels, network protocols and interfaces
read back, encoder and source settings outside the options refused with ter:ConfigModify, fixed and created media
profiles, factory default, PTZ home; driven by the classic onvif-zeep client, by the server's own client where it uses
them, and by raw SOAP for the HTTP-level answers (401 without credentials, a fault and never a 500
for bad input)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from vms_camsim import SimulatorConfig, SimulatorHandle
from vms_common.errors import BadGateway
from vms_server.ingest.probe import probe_onvif

from .helpers import digest_header, small_camera, small_stream, soap_request
from .test_conformance import CLASSIC

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
TT = "http://www.onvif.org/ver10/schema"
ENVELOPE = '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>{body}</s:Body></s:Envelope>'


@pytest.fixture
async def dome() -> AsyncIterator[SimulatorHandle]:
    config = SimulatorConfig(rtsp_port=0, onvif_port=0, cameras=[
        small_camera("dome", ptz=True, main=small_stream(fps=5, kbps=200), sub=None)])
    async with SimulatorHandle.start(config) as handle:
        yield handle


def _classic_blocking(port: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(CLASSIC)}
    done = subprocess.run([sys.executable, str(HERE / "onvif_classic_profile_s.py"), "127.0.0.1", str(port),
                           "admin", "admin"], capture_output=True, text=True, env=env, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout))


@pytest.mark.skipif(not (CLASSIC / "onvif" / "client.py").exists(),
                    reason="classic onvif-zeep missing: scripts/venv.sh installs it into .venv/onvif-zeep-classic")
async def test_profile_s_management_with_the_classic_client(dome: SimulatorHandle) -> None:
    seen = await asyncio.to_thread(_classic_blocking, dome.onvif_port("dome"))
    served = {"HTTP": [dome.onvif_port("dome")], "RTSP": [dome.rtsp.port if dome.rtsp else 0]}
    assert seen == {
        # users: created ones log in by WS-Security digest, with their level's rights, until deleted
        "create": "ok", "create_again": ["OperationProhibited", "UsernameClash"],
        "create_anonymous": ["OperationProhibited", "AnonymousNotAllowed"],
        "users": [["admin", "Administrator"], ["op1", "Operator"], ["viewer", "User"]],
        "op1_login": "ok", "op1_sets_hostname": "ok", "viewer_reads": "by-op1",
        "viewer_sets_hostname": ["NotAuthorized"], "viewer_creates_user": ["NotAuthorized"],
        "set_user": "ok", "op1_old_password": ["NotAuthorized"], "op1_new_password": "ok",
        "delete_fixed": ["InvalidArgVal", "FixedUser"], "delete_missing": ["InvalidArgVal", "UsernameMissing"],
        "delete": "ok", "op1_after_delete": ["NotAuthorized"], "admin_wrong_password": ["NotAuthorized"],
        # network settings are stored and read back
        "set_protocols": "ok", "protocols": {"HTTP": [8080], "RTSP": [8554]},
        "set_https": ["InvalidArgVal", "ServiceNotSupported"], "reboot_needed": False,
        "interface": [1400, "192.0.2.10", 25],
        "set_interface_unknown": ["InvalidArgVal", "InvalidNetworkInterface"],
        "set_interface_mtu": ["InvalidArgVal", "InvalidMtuValue"],
        # its own settings are accepted; a size beyond the options is refused and nothing changes
        # (changes within them are applied: test_onvif_encoder_changes)
        "set_encoder_same": "ok", "set_encoder_bigger": ["InvalidArgVal", "ConfigModify"], "width_after": 320,
        "options_sizes": [[320, 176], [160, 96]], "compatible": ["vec_main"], "add_encoder": "ok", "add_source": "ok",
        "set_source_same": "ok", "add_other_encoder": ["InvalidArgVal", "NoConfig"],
        "delete_fixed_profile": ["Action", "DeletionOfFixedProfile"],
        "remove_from_fixed": ["Action", "ConfigurationConflict"],
        # a created profile streams what its encoder configuration encodes
        "created": ["extra", "Extra", False], "create_clash": ["InvalidArgVal", "ProfileExists"],
        "uri_empty": ["Action", "IncompleteConfiguration"], "uri_same_as_main": True,
        "listed": ["vsc0", "vec_main"], "encoder_after_remove": None, "delete_profile": "ok",
        "profiles_after": ["main"],
        # PTZ home
        "home_supported": True, "set_home": "ok", "away": [-0.5, 0.0, 0.0], "goto_home": "ok",
        "at_home": [0.5, 0.2, 0.3],
        # factory default: soft keeps the network settings, hard resets them to what is served
        "soft_reset": "ok", "hostname_after_soft": "dome", "users_after_soft": ["admin"],
        "profiles_after_soft": ["main"], "temp_after_soft": ["NotAuthorized"],
        "protocols_after_soft": {"HTTP": [8080], "RTSP": [8554]},
        "hard_reset": "ok", "protocols_after_hard": served, "mtu_after_hard": 1500,
    }


async def _post(http: aiohttp.ClientSession, url: str, body: str, *, user: str | None = "admin",
                password: str = "admin", digest: bool = False) -> tuple[int, str]:
    """POST one operation: WS-Security as ``user``, or (digest=True) HTTP Digest answering the challenge,
    or (user=None) no credentials at all."""
    envelope = ENVELOPE.format(body=body)
    if user is None or digest:
        async with http.post(url, data=envelope) as response:
            challenge = response.headers.get("WWW-Authenticate", "")
            if user is None or response.status != 401:
                return response.status, await response.text()
        headers = {"Authorization": digest_header("POST", "/onvif/device_service", challenge, user, password)}
        async with http.post(url, data=envelope, headers=headers) as response:
            return response.status, await response.text()
    async with http.post(url, data=soap_request(body, user, password)) as response:
        return response.status, await response.text()


async def test_created_users_use_http_digest_and_the_servers_client(dome: SimulatorHandle) -> None:
    device = f"http://127.0.0.1:{dome.onvif_port('dome')}/onvif/device_service"
    create = (f'<CreateUsers xmlns="{TDS}"><User><Username xmlns="{TT}">op2</Username>'
              f'<Password xmlns="{TT}">op2-pass</Password><UserLevel xmlns="{TT}">Operator</UserLevel></User>'
              "</CreateUsers>")
    info = f'<GetDeviceInformation xmlns="{TDS}"/>'
    async with aiohttp.ClientSession() as http:
        assert (await _post(http, device, create, user=None))[0] == 401  # no credentials: a Digest challenge
        assert (await _post(http, device, info, user="op2", password="op2-pass", digest=True))[0] == 401
        assert (await _post(http, device, create))[0] == 200
        status, body = await _post(http, device, info, user="op2", password="op2-pass", digest=True)
        assert status == 200 and "GetDeviceInformationResponse" in body
        assert (await _post(http, device, info, user="op2", password="wrong", digest=True))[0] == 401
        # the server adds a camera with the new account (WS-Security through onvif-zeep-async)
        found = await probe_onvif(dome.onvif_url("dome"), "op2", "op2-pass")
        assert [p["token"] for p in found["profiles"]] == ["main"]
        delete = f'<DeleteUsers xmlns="{TDS}"><Username>op2</Username></DeleteUsers>'
        assert (await _post(http, device, delete))[0] == 200
        assert (await _post(http, device, info, user="op2", password="op2-pass", digest=True))[0] == 401
    with pytest.raises(BadGateway) as refused:
        await probe_onvif(dome.onvif_url("dome"), "op2", "op2-pass")
    assert refused.value.code == "onvif_unauthorised"


@pytest.mark.parametrize(("service", "body", "subcode"), [
    ("device", f'<CreateUsers xmlns="{TDS}"/>', "InvalidArgs"),
    ("device", f'<CreateUsers xmlns="{TDS}"><User><Username>{"u" * 40}</Username><Password>long-enough</Password>'
               "<UserLevel>User</UserLevel></User></CreateUsers>", "UsernameTooLong"),
    ("device", f'<CreateUsers xmlns="{TDS}"><User><Username>u1</Username><Password>pw</Password>'
               "<UserLevel>User</UserLevel></User></CreateUsers>", "PasswordTooWeak"),
    ("device", f'<CreateUsers xmlns="{TDS}"><User><Username>u1</Username><Password>pass1</Password>'
               "<UserLevel>Root</UserLevel></User></CreateUsers>", "InvalidArgs"),
    ("device", f'<SetUser xmlns="{TDS}"><User><Username>admin</Username><Password>other</Password>'
               "<UserLevel>User</UserLevel></User></SetUser>", "FixedUser"),
    ("device", f'<SetSystemFactoryDefault xmlns="{TDS}"><FactoryDefault>Medium</FactoryDefault>'
               "</SetSystemFactoryDefault>", "InvalidArgs"),
    ("device", f'<SetNetworkProtocols xmlns="{TDS}"><NetworkProtocols><Name>HTTP</Name><Enabled>true</Enabled>'
               "<Port>abc</Port></NetworkProtocols></SetNetworkProtocols>", "InvalidArgs"),
    ("device", f'<SetNetworkProtocols xmlns="{TDS}"><NetworkProtocols><Name>HTTP</Name><Enabled>true</Enabled>'
               "<Port>70000</Port></NetworkProtocols></SetNetworkProtocols>", "InvalidArgs"),
    ("device", f'<SetNetworkProtocols xmlns="{TDS}"><NetworkProtocols><Name>RTSP</Name><Enabled>true</Enabled>'
               "<Port>{http}</Port></NetworkProtocols></SetNetworkProtocols>", "PortAlreadyInUse"),
    ("device", f'<SetNetworkInterfaces xmlns="{TDS}"><InterfaceToken>eth0</InterfaceToken><NetworkInterface>'
               "<IPv4><Manual><Address>999.1.1.1</Address><PrefixLength>24</PrefixLength></Manual></IPv4>"
               "</NetworkInterface></SetNetworkInterfaces>", "InvalidIPv4Address"),
    ("device", f'<SetNetworkInterfaces xmlns="{TDS}"><InterfaceToken>eth0</InterfaceToken></SetNetworkInterfaces>',
     "InvalidArgs"),
    ("media", f'<SetVideoEncoderConfiguration xmlns="{TRT}"/>', "NoConfig"),
    ("media", f'<SetVideoEncoderConfiguration xmlns="{TRT}"><Configuration token="vec_main">'
              "<Quality>lots</Quality></Configuration></SetVideoEncoderConfiguration>", "ConfigModify"),
    ("media", f'<SetVideoEncoderConfiguration xmlns="{TRT}"><Configuration token="vec_main">'
              "<RateControl><BitrateLimit>99999</BitrateLimit></RateControl></Configuration>"
              "</SetVideoEncoderConfiguration>", "ConfigModify"),
    ("media", f'<AddVideoEncoderConfiguration xmlns="{TRT}"><ProfileToken>main</ProfileToken>'
              "<ConfigurationToken>vec_nope</ConfigurationToken></AddVideoEncoderConfiguration>", "NoConfig"),
    ("media", f'<SetVideoSourceConfiguration xmlns="{TRT}"><Configuration token="vsc0"><SourceToken>vsrc0'
              '</SourceToken><Bounds x="0" y="0" width="10" height="10"/></Configuration>'
              "</SetVideoSourceConfiguration>", "ConfigModify"),
    ("media", f'<DeleteProfile xmlns="{TRT}"><ProfileToken>nope</ProfileToken></DeleteProfile>', "NoProfile"),
    ("media", f'<CreateProfile xmlns="{TRT}"><Name>x</Name><Token>a b</Token></CreateProfile>', "InvalidArgs"),
    ("media", f'<CreateProfile xmlns="{TRT}"><Name>x</Name><Token>main</Token></CreateProfile>', "ProfileExists"),
    ("media", f'<CreateProfile xmlns="{TRT}"/>', "InvalidArgs"),
])
async def test_bad_input_gets_the_onvif_fault(dome: SimulatorHandle, service: str, body: str, subcode: str) -> None:
    port = dome.onvif_port("dome")
    url = f"http://127.0.0.1:{port}/onvif/{service}_service"
    async with aiohttp.ClientSession() as http:
        status, text = await _post(http, url, body.replace("{http}", str(port)))
    assert status == 400, text
    assert f"ter:{subcode}</s:Value>" in text


async def test_created_profiles_are_limited(dome: SimulatorHandle) -> None:
    url = f"http://127.0.0.1:{dome.onvif_port('dome')}/onvif/media_service"
    async with aiohttp.ClientSession() as http:
        for n in range(8):
            status, _ = await _post(http, url, f'<CreateProfile xmlns="{TRT}"><Name>p{n}</Name></CreateProfile>')
            assert status == 200
        status, text = await _post(http, url, f'<CreateProfile xmlns="{TRT}"><Name>one more</Name></CreateProfile>')
        assert status == 500 and "ter:MaxNVTProfiles</s:Value>" in text  # a Receiver fault, not a crash
        status, text = await _post(http, url, f'<GetProfiles xmlns="{TRT}"/>')
        assert status == 200 and text.count('fixed="false"') == 8 and 'token="profile_8"' in text


async def test_ptz_home_needs_a_ptz_profile(dome: SimulatorHandle) -> None:
    url = f"http://127.0.0.1:{dome.onvif_port('dome')}/onvif/ptz_service"
    body = '<GotoHomePosition xmlns="http://www.onvif.org/ver20/ptz/wsdl"><ProfileToken>nope</ProfileToken>' \
           "</GotoHomePosition>"
    async with aiohttp.ClientSession() as http:
        status, text = await _post(http, url, body)
        assert status == 400 and "ter:NoProfile</s:Value>" in text
        assert (await _post(http, url, body, user=None))[0] == 401


_NEW_OPERATIONS = [
    ("device", TDS, "CreateUsers"), ("device", TDS, "DeleteUsers"), ("device", TDS, "SetUser"),
    ("device", TDS, "SetSystemFactoryDefault"), ("device", TDS, "SetNetworkInterfaces"),
    ("device", TDS, "SetNetworkProtocols"), ("device", TDS, "GetRelayOutputs"),
    ("media", TRT, "SetVideoEncoderConfiguration"), ("media", TRT, "SetVideoSourceConfiguration"),
    ("media", TRT, "CreateProfile"), ("media", TRT, "DeleteProfile"), ("media", TRT, "AddVideoEncoderConfiguration"),
    ("media", TRT, "RemoveVideoSourceConfiguration"),
    ("ptz", "http://www.onvif.org/ver20/ptz/wsdl", "SetHomePosition"),
]


async def test_wrong_or_missing_credentials_change_nothing(dome: SimulatorHandle) -> None:
    """Every new operation: no credentials is 401 with a Digest challenge, a wrong WS-Security password is
    ter:NotAuthorized (400); the factory default among them did not run."""
    port = dome.onvif_port("dome")
    async with aiohttp.ClientSession() as http:
        device = f"http://127.0.0.1:{port}/onvif/device_service"
        name = f'<SetHostname xmlns="{TDS}"><Name>kept-name</Name></SetHostname>'
        assert (await _post(http, device, name))[0] == 200
        for service, namespace, operation in _NEW_OPERATIONS:
            url = f"http://127.0.0.1:{port}/onvif/{service}_service"
            body = f'<{operation} xmlns="{namespace}"><FactoryDefault>Hard</FactoryDefault></{operation}>'
            async with http.post(url, data=ENVELOPE.format(body=body)) as bare:
                assert bare.status == 401, operation
                assert bare.headers["WWW-Authenticate"].startswith("Digest "), operation
            status, text = await _post(http, url, body, password="wrong")
            assert status == 400 and "ter:NotAuthorized</s:Value>" in text, operation
        status, text = await _post(http, device, f'<GetHostname xmlns="{TDS}"/>')
        assert status == 200 and "kept-name" in text
