"""One view for live video: two real `vms-server run` nodes on one PostgreSQL and Redis, a simulator camera
recorded by one of them. A viewer connected to the other node opens the desktop client's live socket there and
decodes the camera's frames (relayed from the owner), and the browsers' HLS too; the timeline and playback asked
of that node reach the segment the owner is still writing; the node-to-node routes refuse a forged or missing
link; when the camera moves to the viewer's node the relay ends and that node serves it from its own connection."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import struct
import time
import uuid
from typing import Any

import aiohttp
import av
import pytest

from tests.conftest import PASSWORD
from tests.server.cluster.conftest import Cluster, Node, poll, utc
from tests.server.helpers import totp_now
from vms_common.auth.roles import Role
from vms_server.cluster.live import live_subject
from vms_server.cluster.remote import NodeLinks

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
HEADER = struct.Struct(">qB")  # the live wire format: capture time (us), flags (bit 0: keyframe), access unit


async def _owner(cluster: Cluster, camera_id: uuid.UUID) -> str | None:
    rows = await cluster.query("SELECT node_id FROM cluster_assignments WHERE camera_id = :c AND moving_to IS NULL",
                               c=camera_id)
    return str(rows[0][0]) if rows and rows[0][0] is not None else None


async def _login(node: Node, seeded: Any, role: Role = Role.VIEWER) -> str:
    username, secret = seeded.users[role]
    async with aiohttp.ClientSession() as http, http.post(
            f"{node.url}/api/v1/auth/login",
            json={"username": username, "password": PASSWORD, "totp_code": totp_now(secret)}) as resp:
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["access_token"])


async def _watch(node: Node, camera_id: uuid.UUID, token: str, frames: int) -> tuple[dict[str, Any], int, int] | None:
    """Open the live socket the desktop client opens and decode `frames` pictures: (stream message, decoded
    pictures, keyframes seen); None while the server says there is no picture yet (the camera connecting)."""
    url = f"{node.url}/api/v1/cameras/{camera_id}/live/ws"
    info: dict[str, Any] = {}
    decoded = keyframes = 0
    codec: av.CodecContext | None = None
    async with aiohttp.ClientSession() as http, http.ws_connect(
            url, params={"stream": "main", "access_token": token}, max_msg_size=1 << 25) as ws:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                message = json.loads(msg.data)
                if message["type"] != "stream":
                    print(f"not yet: {message}")
                    return None
                info = message
                codec = av.CodecContext.create(str(message["codec"]), "r")
            elif msg.type == aiohttp.WSMsgType.BINARY and codec is not None:
                _at, flags = HEADER.unpack_from(msg.data)
                keyframes += flags & 1
                if keyframes:
                    decoded += sum(1 for f in codec.decode(av.Packet(msg.data[HEADER.size:])) if f.width == 320)
                if decoded >= frames:
                    break
            else:
                break
    return info, decoded, keyframes


async def _timeline_reaches_open_segment(cluster: Cluster, node: Node, camera_id: uuid.UUID, token: str,
                                         since: dt.datetime) -> bool:
    """The timeline asked of `node` ends past every indexed segment of the camera (so it holds the owner's open
    one); asked again if a segment was indexed meanwhile."""
    query = "SELECT max(end_at) FROM recording_segments WHERE camera_id = :c"
    before = (await cluster.query(query, c=camera_id))[0][0]
    end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    async with aiohttp.ClientSession() as http, http.get(
            f"{node.url}/api/v1/cameras/{camera_id}/recordings",
            params={"start": since.isoformat(), "end": end.isoformat()},
            headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 200, await resp.text()
        ranges = (await resp.json())["ranges"]
    after = (await cluster.query(query, c=camera_id))[0][0]
    if before != after or not ranges:
        return False
    last = dt.datetime.fromisoformat(ranges[-1]["end"])
    return before is None or last > before  # type: ignore[operator]


async def test_live_view_and_timeline_from_the_node_that_does_not_record(cluster: tuple[Cluster, Any]) -> None:
    made, seeded = cluster
    nodes = made.nodes[:2]
    for node in nodes:
        # Segments longer than the test: the camera's footage is all in the owner's open segment, which the
        # other node's timeline must still show.
        node._env["VMS_RECORDING__SEGMENT_SECONDS"] = "120"
        node.start()
    try:
        async def two_alive() -> bool:
            for node in nodes:
                assert node.proc is not None and node.proc.poll() is None, f"{node.node_id} exited"
            rows = await made.query("SELECT count(*) FROM cluster_nodes WHERE lease_until > now()")
            return rows[0][0] == 2

        await poll(two_alive, 90, "two nodes registered")
        since = utc(time.time() - 5)
        await made.add_cameras(seeded.site_id, seeded.customer_id, 1)
        [camera_id] = made.camera_ids
        owner_id = await poll(lambda: _owner(made, camera_id), 60, "the camera assigned")
        owner = next(n for n in nodes if n.node_id == owner_id)
        other = next(n for n in nodes if n.node_id != owner_id)
        token = await _login(other, seeded)

        async def relayed() -> tuple[dict[str, Any], int, int] | None:
            return await asyncio.wait_for(_watch(other, camera_id, token, 10), 30)

        info, decoded, keyframes = await poll(relayed, 60, "live frames through the other node")  # type: ignore[misc]
        assert info["codec"] == "h264" and info["width"] == 320, info
        assert decoded >= 10 and keyframes >= 1
        assert await _owner(made, camera_id) == owner_id, "the camera moved: the frames may not have been relayed"

        await _hls_through(other, camera_id, token)
        await poll(lambda: _timeline_reaches_open_segment(made, other, camera_id, token, since), 30,
                   "the other node's timeline reaching the open segment")
        first = await _playback_of_open_segment(made, other, camera_id, token, since)
        await asyncio.sleep(3.0)  # the owner writes more of its open segment (a fragment per GOP)
        second = await _playback_of_open_segment(made, other, camera_id, token, since)
        assert second > first, (first, second)  # the later copy holds more footage and still decodes
        admin = await _login(other, seeded, Role.ADMIN)  # once: a TOTP code is accepted only once
        await _only_the_tail_fetched_again(other, admin)
        await _links_are_checked(owner, camera_id)
        await _relay_ends_when_the_camera_moves(made, other, camera_id, token, admin)
    except BaseException:
        for node in nodes:
            print(f"--- {node.node_id} log tail ---\n{node.log_tail()}")
        raise


async def _hls_through(node: Node, camera_id: uuid.UUID, token: str) -> None:
    """The browsers' live HLS asked of the node that does not record the camera: a playlist whose segment URLs
    point back at that node, and an init segment and media segment that decode into the camera's pictures."""
    base = f"{node.url}/api/v1/cameras/{camera_id}/live/hls/"
    params = {"stream": "main", "access_token": token}
    async with aiohttp.ClientSession() as http:
        async with http.get(base + "index.m3u8", params=params) as resp:
            assert resp.status == 200, await resp.text()
            playlist = await resp.text()
        names = [line.split("?")[0] for line in playlist.splitlines() if line and not line.startswith("#")]
        assert names and 'URI="init.mp4?stream=main&access_token=' in playlist, playlist
        data = b""
        for name in ("init.mp4", names[-1]):
            async with http.get(base + name, params=params) as resp:
                assert resp.status == 200, await resp.text()
                data += await resp.read()
    with av.open(io.BytesIO(data)) as container:
        frames = [f for f in container.decode(video=0)]
    assert frames and frames[0].width == 320, len(frames)


async def _playback_of_open_segment(cluster: Cluster, node: Node, camera_id: uuid.UUID, token: str,
                                    since: dt.datetime) -> int:
    """Playback asked of the node that does not record the camera reaches the footage of the segment the owner
    is still writing (nothing of the camera is indexed yet: without it the answer would be 404)."""
    indexed = await cluster.query("SELECT count(*) FROM recording_segments WHERE camera_id = :c", c=camera_id)
    end = dt.datetime.now(dt.UTC)
    async with aiohttp.ClientSession() as http, http.get(
            f"{node.url}/api/v1/cameras/{camera_id}/playback.mp4",
            params={"start": since.isoformat(), "end": end.isoformat(), "speed": "16", "access_token": token}) as resp:
        assert resp.status == 200, await resp.text()
        data = await resp.read()
    with av.open(io.BytesIO(data)) as container:
        frames = [f for f in container.decode(video=0)]
    print(f"playback from {node.node_id} of the owner's open segment: {len(frames)} keyframes "
          f"({indexed[0][0]} segments indexed)")
    assert frames and frames[0].width == 320, len(frames)
    return len(frames)


async def _only_the_tail_fetched_again(node: Node, admin: str) -> None:
    """The second playback near the live end fetched only what the owner had added to its open segment since
    the first (an HTTP range), not the whole file again: the node's /metrics counts one whole fetch and one
    tail fetch."""
    async with aiohttp.ClientSession() as http, http.get(
            f"{node.url}/metrics", headers={"Authorization": f"Bearer {admin}"}) as resp:
        assert resp.status == 200, await resp.text()
        text = await resp.text()
    values = {}
    for line in text.splitlines():
        if line.startswith("vms_cluster_open_segment_fetch"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    assert values['vms_cluster_open_segment_fetches{kind="full"}'] == 1, values
    assert values['vms_cluster_open_segment_fetches{kind="tail"}'] == 1, values
    assert values['vms_cluster_open_segment_fetched_bytes{kind="tail"}'] > 1, values


async def _relay_ends_when_the_camera_moves(cluster: Cluster, node: Node, camera_id: uuid.UUID, token: str,
                                            admin: str) -> None:
    """A viewer relayed through `node`; the camera is pinned to `node` itself: the relay closes the socket once
    the camera has moved (the client reconnects), and the next socket is served by `node` from its own
    connection to the camera."""
    url = f"{node.url}/api/v1/cameras/{camera_id}/live/ws"
    async with aiohttp.ClientSession() as http, http.ws_connect(
            url, params={"stream": "main", "access_token": token}, max_msg_size=1 << 25) as ws:
        first = await asyncio.wait_for(ws.receive(), 30)
        assert first.type == aiohttp.WSMsgType.TEXT and json.loads(first.data)["type"] == "stream", first
        async with http.put(f"{node.url}/api/v1/cluster/cameras/{camera_id}/pin", json={"node_id": node.node_id},
                            headers={"Authorization": f"Bearer {admin}"}) as resp:
            assert resp.status == 200, await resp.text()

        async def until_closed() -> int:
            frames = 0
            async for msg in ws:
                frames += msg.type == aiohttp.WSMsgType.BINARY
            return frames

        frames = await asyncio.wait_for(until_closed(), 90)
    assert await _owner(cluster, camera_id) == node.node_id
    print(f"relay closed after the camera moved to {node.node_id} ({frames} frames relayed meanwhile)")

    async def served_here() -> tuple[dict[str, Any], int, int] | None:
        return await asyncio.wait_for(_watch(node, camera_id, token, 5), 30)

    info, decoded, _keys = await poll(served_here, 60, "live view from the new owner")  # type: ignore[misc]
    assert decoded >= 5 and info["width"] == 320


async def _links_are_checked(owner: Node, camera_id: uuid.UUID) -> None:
    """The owner's node-to-node routes take a presigned link only: forged, another cluster's, or none."""
    forged = {"stream": "main", "expires": str(int(time.time()) + 30), "sig": "0" * 64}
    foreign = {"stream": "main", **NodeLinks(b"x" * 32, "live-link").query(live_subject(camera_id, "main"))}
    async with aiohttp.ClientSession() as http:
        for params in (forged, foreign):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(f"{owner.url}/api/v1/cluster/cameras/{camera_id}/live/ws", params=params)
            assert refused.value.status == 403
        async with http.get(f"{owner.url}/api/v1/cluster/cameras/{camera_id}/open",
                            params={"expires": forged["expires"], "sig": forged["sig"]}) as resp:
            assert resp.status == 403, await resp.text()
        async with http.get(f"{owner.url}/api/v1/cluster/cameras/{camera_id}/live/hls/index.m3u8",
                            params=forged) as resp:
            assert resp.status == 403, await resp.text()
        async with http.get(f"{owner.url}/api/v1/cluster/cameras/{camera_id}/open/file", params=forged) as resp:
            assert resp.status == 403, await resp.text()
        async with http.get(f"{owner.url}/api/v1/cluster/cameras/{camera_id}/live/ws") as resp:
            assert resp.status == 422, await resp.text()
