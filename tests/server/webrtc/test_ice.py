"""The ICE servers API against a real coturn: the credential it hands out obtains a TURN allocation that relays
data, a tampered or expired one is refused, and the shared secret never appears in an answer."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aioice import stun, turn

from tests.server.helpers import ApiClient
from tests.server.webrtc.coturn import Coturn
from vms_common.auth.roles import Role
from vms_server.settings import SettingsError, load_settings
from vms_server.webrtc.ice import turn_credential

PATH = "/api/v1/network/ice-servers"


class _Peer(asyncio.DatagramProtocol):
    """A UDP peer on loopback that records what reaches it through the relay."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait((data, addr))


class _Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait(data)


async def _allocate(coturn: Coturn, username: str, credential: str) -> tuple[turn.TurnTransport, _Client]:
    return await turn.create_turn_endpoint(_Client, ("127.0.0.1", coturn.port), username, credential,
                                           lifetime=60)


async def test_credentials_from_the_api_relay_through_coturn(api: ApiClient, coturn: Coturn) -> None:
    before = int(time.time())
    answer: dict[str, Any] = await api.ok("GET", PATH, Role.VIEWER)
    stun_entry, turn_entry = answer["ice_servers"]
    assert stun_entry == {"urls": [coturn.stun_url], "username": None, "credential": None}
    assert turn_entry["urls"] == [coturn.turn_url]
    expiry, user = turn_entry["username"].split(":", 1)
    assert user == api.seeded.users[Role.VIEWER][0]
    assert before + 600 <= int(expiry) == answer["expires_at"] <= int(time.time()) + 600

    transport, client = await _allocate(coturn, turn_entry["username"], turn_entry["credential"])
    loop = asyncio.get_running_loop()
    peer_transport, peer = await loop.create_datagram_endpoint(_Peer, local_addr=("127.0.0.1", 0))
    try:
        relayed = transport.get_extra_info("sockname")
        assert relayed[0] == "127.0.0.1" and relayed[1] != coturn.port
        peer_addr = peer_transport.get_extra_info("sockname")
        transport.sendto(b"through the relay", peer_addr)
        data, source = await asyncio.wait_for(peer.received.get(), 20)
        assert data == b"through the relay" and source == tuple(relayed)
        peer_transport.sendto(b"and back", source)
        assert await asyncio.wait_for(client.received.get(), 20) == b"and back"
    finally:
        peer_transport.close()
        transport.close()


@pytest.mark.parametrize("spoil", ["credential", "user", "expired"])
async def test_a_wrong_or_expired_credential_is_refused(api: ApiClient, coturn: Coturn, spoil: str) -> None:
    turn_entry = (await api.ok("GET", PATH, Role.VIEWER))["ice_servers"][1]
    username, credential = turn_entry["username"], turn_entry["credential"]
    if spoil == "credential":
        credential = turn_credential("not the secret", "viewer", int(username.split(":")[0]))[1]
    elif spoil == "user":  # a valid credential does not carry over to another name
        username = username.split(":")[0] + ":someone-else"
    else:  # signed with the real secret, but its time has passed
        username, credential = turn_credential(coturn.secret, "viewer", int(time.time()) - 5)
    with pytest.raises(stun.TransactionFailed) as refused:
        await _allocate(coturn, username, credential)
    assert refused.value.response.attributes["ERROR-CODE"][0] == 401


async def test_every_role_gets_them_and_the_secret_never_leaves(api: ApiClient, coturn: Coturn) -> None:
    for role in (Role.VIEWER, Role.SUPERVISOR, Role.ADMIN):
        resp = await api.call("GET", PATH, role)
        assert resp.status == 200 and coturn.secret not in await resp.text()
    assert (await api.call("GET", PATH, None)).status == 401
    for path in ("/api/v1/openapi.json", "/health/detailed"):
        assert coturn.secret not in await (await api.call("GET", path)).text()


def test_settings_refuse_turn_without_a_secret_and_bad_uris() -> None:
    with pytest.raises(SettingsError, match="turn_secret"):
        load_settings(None, network={"ice": {"turn_urls": ["turn:turn.example.com:3478"]}})
    with pytest.raises(SettingsError, match="not a stun"):
        load_settings(None, network={"ice": {"stun_urls": ["http://example.com"]}})
    with pytest.raises(SettingsError, match="not a turn"):
        load_settings(None, network={"ice": {"turn_urls": ["stun:x:3478"], "turn_secret": "s"}})
