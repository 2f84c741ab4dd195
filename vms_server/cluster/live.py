"""Live view of a camera recorded by another node: the node a client is connected to relays the owner's stream.

A client talks to one node (the desktop client keeps one server URL) but only the node that records a camera
connects to it. A live request for a camera another node records is answered by opening the owner's live socket
and passing every message on unchanged (codec copy, the same wire format), so the client needs no change and
the camera still has one connection. Redirecting was not an option: a WebSocket handshake does not follow
redirects, and the owner's URL may not be reachable from where the client sits.

Nodes authenticate each other with a presigned link (`NodeLinks`, purpose `live-link`) over the camera and
stream, valid a minute; no user credential travels between nodes, and the owner never relays again (no loops).
The relay ends when either side closes or when the camera moves to another node; the client then reconnects,
as after any interruption, and reaches the new owner. Live HLS (browsers) is relayed file by file the same way:
the playlist and its one-second segments are fetched from the owner's muxer. The same kind of link (subject
`open:<camera>`) lets a node ask the owner for the span of the segment it is writing, the live end of a timeline
asked elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_common.errors import NotFound, NotReady
from vms_server.cluster.models import CameraAssignment, ClusterNode
from vms_server.cluster.open_copy import OpenCopies
from vms_server.cluster.peers import peer_ssl
from vms_server.cluster.remote import NodeLinks
from vms_server.playback.live_routes import drain_client, status_message

logger = logging.getLogger(__name__)
LIVE_PATH = "/api/v1/cluster/cameras/{camera_id}/live/ws"
OPEN_PATH = "/api/v1/cluster/cameras/{camera_id}/open"
HLS_PATH = "/api/v1/cluster/cameras/{camera_id}/live/hls/{name}"
OPEN_FILE_PATH = "/api/v1/cluster/cameras/{camera_id}/open/file"
CONNECT_TIMEOUT_S = 5.0
HLS_TIMEOUT_S = 30.0  # the owner waits up to about 10 s for its muxer's first playlist
OPEN_TIMEOUT_S = 2.0  # a timeline waits this long at most for the owner's live end
OWNER_CHECK_S = 2.0  # how soon a relay notices that its camera moved to another node
MAX_MESSAGE = 32 * 1024 * 1024  # a keyframe of a 4K main stream fits


def live_subject(camera_id: uuid.UUID, stream: str) -> str:
    return f"live:{camera_id}:{stream}"


def open_subject(camera_id: uuid.UUID) -> str:
    return f"open:{camera_id}"


def open_file_subject(camera_id: uuid.UUID, stream: str) -> str:
    return f"open-file:{camera_id}:{stream}"


def hls_subject(camera_id: uuid.UUID, stream: str) -> str:
    return f"hls:{camera_id}:{stream}"


class LiveProxy:
    """Finds the node recording a camera and relays its live stream or asks for its open segment's span."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], node_id: str, links: NodeLinks,
                 cache_dir: Path) -> None:
        self._sessions, self.node_id, self.links, self.cache_dir = sessions, node_id, links, cache_dir
        self.open_copies = OpenCopies(cache_dir)
        self.relayed = 0  # relays opened (for tests and the log)

    async def owner(self, camera_id: uuid.UUID) -> tuple[str, str, aiohttp.Fingerprint | bool] | None:
        """(node id, base URL, `ssl=` pinning its certificate) of the live node other than this one that
        records the camera, if any."""
        async with self._sessions() as session:
            row = (await session.execute(
                select(ClusterNode.id, ClusterNode.url, ClusterNode.tls_fingerprint)
                .join(CameraAssignment, CameraAssignment.node_id == ClusterNode.id)
                .where(CameraAssignment.camera_id == camera_id, ClusterNode.lease_until > func.now(),
                       ClusterNode.id != self.node_id))).first()
        if row is None:
            return None
        base = str(row[1]).rstrip("/")
        return str(row[0]), base, peer_ssl(base, str(row[2] or ""))

    async def relay(self, ws: web.WebSocketResponse, camera_id: uuid.UUID, stream: str) -> bool:
        """Pass the owner's live socket on to `ws` until either ends or the camera moves. False (nothing sent)
        when no other live node records the camera (or the database cannot say now)."""
        try:
            found = await self.owner(camera_id)
        except Exception:
            logger.warning("cannot look up the node recording camera %s", camera_id, exc_info=True)
            return False
        if found is None:
            return False
        node_id, base, ssl = found
        params = {"stream": stream, **self.links.query(live_subject(camera_id, stream))}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http, http.ws_connect(
                    base + LIVE_PATH.format(camera_id=camera_id), params=params, heartbeat=30,
                    max_msg_size=MAX_MESSAGE, ssl=ssl) as upstream:
                self.relayed += 1
                logger.debug("relaying live view of camera %s from %s", camera_id, node_id)
                await _first_done(_pump(upstream, ws), drain_client(ws), self._watch(camera_id, node_id))
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            logger.warning("cannot relay live view of camera %s from %s: %s", camera_id, node_id, exc)
            with contextlib.suppress(ConnectionResetError):
                await ws.send_str(status_message("offline", f"node {node_id}, which records this camera, does "
                                                            "not answer; retrying"))
        return True

    async def _watch(self, camera_id: uuid.UUID, node_id: str) -> None:
        """Return once the camera is no longer recorded by `node_id` (handed over, or the node died)."""
        while True:
            await asyncio.sleep(OWNER_CHECK_S)
            try:
                found = await self.owner(camera_id)
            except Exception as exc:  # the database briefly away: keep relaying, look again later
                logger.debug("cannot check the owner of camera %s: %s", camera_id, exc)
                continue
            if found is None or found[0] != node_id:
                logger.debug("camera %s left %s: the relay ends, the client reconnects", camera_id, node_id)
                return

    async def open_span(self, camera_id: uuid.UUID) -> tuple[int, int] | None:
        """(start_us, last_us) of the segment the owner is writing, or None (no other owner, nothing open, the
        owner does not answer within `OPEN_TIMEOUT_S`: the timeline then ends at the last indexed segment)."""
        found = await self.owner(camera_id)
        if found is None:
            return None
        node_id, base, ssl = found
        timeout = aiohttp.ClientTimeout(total=OPEN_TIMEOUT_S)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http, http.get(
                    base + OPEN_PATH.format(camera_id=camera_id),
                    params=self.links.query(open_subject(camera_id)), ssl=ssl) as resp:
                if resp.status != 200:
                    return None
                body = await resp.json()
                return int(body["start_us"]), int(body["last_us"])
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            logger.warning("cannot ask %s for the open segment of camera %s: %s", node_id, camera_id, exc)
            return None


    async def open_file(self, camera_id: uuid.UUID, stream: str, start_us: int, end_us: int,
                        ) -> tuple[Path, int, int] | None:
        """A copy of the segment the owner is writing, as far as it is flushed, when it overlaps [start_us,
        end_us): (path, start_us, last_us) like `Recorder.open_file`, for playback and export asked here. One
        copy per camera and stream, brought up to date with only the bytes the owner added (`OpenCopies`).
        None when no other node writes such a segment or it does not answer (the answer ends earlier)."""
        span = await self.open_span(camera_id)
        if span is None or span[0] >= end_us or span[1] <= start_us:
            return None
        node_id, base, ssl = await self.owner(camera_id) or ("", "", True)
        if not base:
            return None
        params = {"stream": stream, **self.links.query(open_file_subject(camera_id, stream))}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HLS_TIMEOUT_S)) as http:
                return await self.open_copies.get(http, base + OPEN_FILE_PATH.format(camera_id=camera_id), params,
                                                  ssl, camera_id, stream, span[0])
        except (aiohttp.ClientError, OSError, TimeoutError, KeyError, ValueError) as exc:
            logger.warning("cannot fetch the open segment of camera %s from %s: %s", camera_id, node_id, exc)
            return None

    async def hls_file(self, camera_id: uuid.UUID, stream: str, name: str) -> bytes | None:
        """The owner's live HLS playlist (unrewritten) or segment `name`; None when no other live node records
        the camera. Raises NotFound (the owner has no such segment) or NotReady (it failed or did not answer)."""
        found = await self.owner(camera_id)
        if found is None:
            return None
        node_id, base, ssl = found
        params = {"stream": stream, **self.links.query(hls_subject(camera_id, stream))}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HLS_TIMEOUT_S)) as http, http.get(
                    base + HLS_PATH.format(camera_id=camera_id, name=name), params=params, ssl=ssl) as resp:
                if resp.status == 404:
                    raise NotFound("segment expired")
                if resp.status != 200:
                    raise NotReady(f"node {node_id}, which records this camera, answered {resp.status}; retry")
                return await resp.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            logger.warning("cannot relay live HLS of camera %s from %s: %s", camera_id, node_id, exc)
            raise NotReady(f"node {node_id}, which records this camera, does not answer; retry") from exc


async def _pump(upstream: aiohttp.ClientWebSocketResponse, ws: web.WebSocketResponse) -> None:
    async for msg in upstream:
        if msg.type == aiohttp.WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
        elif msg.type == aiohttp.WSMsgType.TEXT:
            await ws.send_str(msg.data)
        else:
            return


async def _first_done(*jobs: Coroutine[Any, Any, None]) -> None:
    """Run the coroutines until the first returns (or fails); cancel the others. A client gone mid-send ends
    the relay like any other end."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):
                await task
