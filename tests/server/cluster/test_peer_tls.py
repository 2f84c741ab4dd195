"""Nodes of a cluster trust each other over HTTPS by the fingerprint each publishes (TLS is on by default, each
node with its own self-signed certificate): two real `vms-server run` nodes with TLS on, a viewer on the node that
does not record the camera gets its frames relayed over the pinned node-to-node link; and against a real HTTPS
server, the pin opens the connection, a wrong pin and an unpinned self-signed certificate are refused."""

from __future__ import annotations

import asyncio
import json
import ssl
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import PASSWORD
from tests.server.cluster.conftest import Cluster, Node, poll
from tests.server.config.conftest import free_port
from tests.server.helpers import totp_now
from vms_common.auth.roles import Role
from vms_common.tls import fingerprint, generate_self_signed
from vms_server.cluster.peers import peer_ssl


def _pin(node: Node) -> aiohttp.Fingerprint:
    """What an operator's client pins for this node: its self-signed certificate's fingerprint."""
    served = fingerprint((node.data_dir / "tls" / "server.crt").read_bytes())
    return aiohttp.Fingerprint(bytes.fromhex(served.replace(":", "")))


async def test_a_pin_opens_exactly_that_certificate(tmp_path: Path) -> None:
    port = free_port()
    generate_self_signed(tmp_path / "a.crt", tmp_path / "a.key", [])
    generate_self_signed(tmp_path / "b.crt", tmp_path / "b.key", [])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "a.crt", tmp_path / "a.key")
    app = web.Application()
    app.router.add_get("/", lambda _: web.Response(text="node a"))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    url = f"https://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            right = peer_ssl(url, fingerprint((tmp_path / "a.crt").read_bytes()))
            async with http.get(url + "/", ssl=right) as resp:
                assert await resp.text() == "node a"
            with pytest.raises(aiohttp.ServerFingerprintMismatch):  # another node's certificate
                await http.get(url + "/", ssl=peer_ssl(url, fingerprint((tmp_path / "b.crt").read_bytes())))
            with pytest.raises(aiohttp.ClientConnectorCertificateError):  # no pin: the CAs decide, and refuse
                await http.get(url + "/", ssl=peer_ssl(url, ""))
    finally:
        await runner.cleanup()
    assert peer_ssl("http://10.0.0.5:8080", "AA:BB") is True  # TLS off: nothing to pin


async def _frames_through(node: Node, camera_id: uuid.UUID, token: str, wanted: int) -> int:
    """Binary live messages received from `node`'s live socket (0 while it says there is no picture yet)."""
    got = 0
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{node.url}/api/v1/cameras/{camera_id}/live/ws", params={"stream": "main", "access_token": token},
            ssl=_pin(node), max_msg_size=1 << 25) as ws:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data)["type"] != "stream":
                return 0
            if msg.type == aiohttp.WSMsgType.BINARY:
                got += 1
                if got >= wanted:
                    break
    return got


@pytest.mark.slow
@pytest.mark.postgres
async def test_nodes_with_tls_relay_live_view_over_pinned_links(cluster: tuple[Cluster, Any]) -> None:
    made, seeded = cluster
    nodes = made.nodes[:2]
    for node in nodes:
        node._env["VMS_SERVER__TLS__MODE"] = "self_signed"  # the default outside the tests
        node.url = f"https://127.0.0.1:{node.port}"
        node.start()
    try:
        async def two_registered() -> bool:
            for node in nodes:
                assert node.proc is not None and node.proc.poll() is None, f"{node.node_id} exited"
            rows = await made.query("SELECT id, url, tls_fingerprint FROM cluster_nodes WHERE lease_until > now()")
            return len(rows) == 2

        await poll(two_registered, 90, "two nodes registered")
        rows = {str(r[0]): (str(r[1]), str(r[2])) for r in await made.query(
            "SELECT id, url, tls_fingerprint FROM cluster_nodes")}
        for node in nodes:  # each publishes its https URL and the certificate it really serves
            served = fingerprint((node.data_dir / "tls" / "server.crt").read_bytes())
            assert rows[node.node_id] == (node.url, served), rows
        assert rows[nodes[0].node_id][1] != rows[nodes[1].node_id][1]  # a certificate of its own each

        await made.add_cameras(seeded.site_id, seeded.customer_id, 1)
        [camera_id] = made.camera_ids

        async def owner() -> str | None:
            found = await made.query("SELECT node_id FROM cluster_assignments WHERE camera_id = :c", c=camera_id)
            return str(found[0][0]) if found and found[0][0] is not None else None

        owner_id = await poll(owner, 60, "the camera assigned")
        other = next(n for n in nodes if n.node_id != owner_id)
        username, secret = seeded.users[Role.VIEWER]
        async with aiohttp.ClientSession() as http, http.post(
                f"{other.url}/api/v1/auth/login", ssl=_pin(other),
                json={"username": username, "password": PASSWORD, "totp_code": totp_now(secret)}) as resp:
            assert resp.status == 200, await resp.text()
            token = str((await resp.json())["access_token"])

        async def relayed() -> int:
            return await asyncio.wait_for(_frames_through(other, camera_id, token, 10), 30)

        assert await poll(relayed, 60, "live frames relayed over the pinned HTTPS link") == 10
        assert await owner() == owner_id, "the camera moved: the frames may not have been relayed"
    except BaseException:
        for node in nodes:
            print(f"--- {node.node_id} log tail ---\n{node.log_tail()}")
        raise
