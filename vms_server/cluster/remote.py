"""Footage of one camera recorded on several nodes, played and exported as one.

A camera that failed over and back has segments on two or three nodes, each on the node's own volumes, and the
index (one database) lists them all. The node answering a playback, export or clip request fetches the segments
that lie on other nodes' volumes from those nodes and remuxes everything as one stream: the client talks to any
node and gets continuous video, as the issue's "one view" asks.

A segment is fetched with a presigned link (`SegmentLinks`): an HMAC over the segment id and an expiry, keyed
from the master secret every node of a cluster shares (docs/cluster.md). Nodes hold no user credentials for each
other, and a leaked link opens one segment for a minute. Fetched files are cached under the data directory
(`cluster-cache/`, the oldest evicted past `CACHE_MAX_BYTES`), so a seek back or a second viewer reads locally.
A node that is dead or does not answer leaves its segments out: a gap in the answer, logged, never an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
import uuid
from pathlib import Path

import aiohttp
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_server.cluster.models import ClusterNode
from vms_server.cluster.peers import peer_ssl
from vms_server.recording.models import RecordingSegment
from vms_server.security.keystore import derive_key

logger = logging.getLogger(__name__)
LINK_TTL_S = 60
CACHE_MAX_BYTES = 2 * 1024**3
FETCH_TIMEOUT_S = 60.0
SEGMENT_PATH = "/api/v1/cluster/segments/{segment_id}/file"


class NodeLinks:
    """Presigned links between the nodes of a cluster, valid `LINK_TTL_S`: an HMAC over what the link opens (its
    subject) and its expiry, keyed per purpose from the master secret, so a link made for one purpose (a
    segment's file) opens nothing else (a live stream)."""

    def __init__(self, master: bytes, purpose: str) -> None:
        self._key = derive_key(master, f"vms/cluster/{purpose}/v1")

    def _mac(self, subject: object, expires: int) -> str:
        return hmac.new(self._key, f"{subject}:{expires}".encode(), hashlib.sha256).hexdigest()

    def query(self, subject: object, now: float | None = None) -> dict[str, str]:
        expires = int((time.time() if now is None else now) + LINK_TTL_S)
        return {"expires": str(expires), "sig": self._mac(subject, expires)}

    def valid(self, subject: object, expires: str, sig: str, now: float | None = None) -> bool:
        try:
            when = int(expires)
        except ValueError:
            return False
        if when < (time.time() if now is None else now) or when > time.time() + 10 * LINK_TTL_S:
            return False
        return hmac.compare_digest(self._mac(subject, when), sig)


class SegmentLinks(NodeLinks):
    """Links to one segment's file (the subject is the segment id)."""

    def __init__(self, master: bytes) -> None:
        super().__init__(master, "segment-link")


class RemoteFootage:
    """Fetches other nodes' segments for this node's playback, exports and clips."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], node_id: str, own_volumes: set[str],
                 cache_dir: Path, links: SegmentLinks) -> None:
        self._sessions, self.node_id, self.own_volumes = sessions, node_id, own_volumes
        self.cache_dir, self.links = cache_dir, links
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}
        self.fetched = 0  # segments downloaded (not counting cache hits)
        self.failed = 0

    def is_remote(self, row: RecordingSegment) -> bool:
        return row.volume not in self.own_volumes

    async def holders(self) -> dict[str, tuple[str, str]]:
        """Volume path -> (base URL, published certificate fingerprint) of the live node that records into it
        (other nodes only)."""
        async with self._sessions() as session:
            nodes = (await session.scalars(select(ClusterNode).where(ClusterNode.lease_until > func.now(),
                                                                     ClusterNode.id != self.node_id))).all()
        return {str(disk.get("path")): (node.url.rstrip("/"), node.tls_fingerprint or "")
                for node in nodes for disk in node.disks}

    async def fetch(self, rows: list[RecordingSegment]) -> dict[uuid.UUID, Path]:
        """Local copies of the given remote rows' files (the ones that could be had)."""
        if not rows:
            return {}
        holders = await self.holders()
        found: dict[uuid.UUID, Path] = {}
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S, sock_connect=5)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            for row in rows:
                holder = holders.get(row.volume)
                if holder is None:
                    logger.warning("segment %s of camera %s is on %s, which no live node serves: left out",
                                   row.id, row.camera_id, row.volume)
                    self.failed += 1
                    continue
                path = await self._one(http, holder, row)
                if path is not None:
                    found[row.id] = path
        await asyncio.to_thread(self._evict_blocking)
        return found

    async def _one(self, http: aiohttp.ClientSession, holder: tuple[str, str], row: RecordingSegment,
                   ) -> Path | None:
        base, fingerprint = holder
        target = self.cache_dir / f"{row.id}{Path(row.path).suffix or '.mp4'}"
        async with self._locks.setdefault(row.id, asyncio.Lock()):
            if await asyncio.to_thread(target.is_file):
                return target
            url = base + SEGMENT_PATH.format(segment_id=row.id)
            part = target.with_name(target.name + ".part")
            try:
                await asyncio.to_thread(self.cache_dir.mkdir, parents=True, exist_ok=True)
                async with http.get(url, params=self.links.query(row.id), ssl=peer_ssl(base, fingerprint)) as resp:
                    if resp.status != 200:
                        raise OSError(f"{resp.status} {(await resp.text())[:200]}")
                    with part.open("wb") as out:
                        async for chunk in resp.content.iter_chunked(256 * 1024):
                            await asyncio.to_thread(out.write, chunk)
                await asyncio.to_thread(part.rename, target)
            except (TimeoutError, OSError, aiohttp.ClientError) as exc:
                with contextlib.suppress(OSError):
                    part.unlink()
                self.failed += 1
                logger.warning("cannot fetch segment %s of camera %s from %s: %s", row.id, row.camera_id, base,
                               exc)
                return None
            finally:
                self._locks.pop(row.id, None)
            self.fetched += 1
            return target

    def _evict_blocking(self) -> None:
        try:
            files = sorted((p for p in self.cache_dir.iterdir() if p.suffix != ".part"),
                           key=lambda p: p.stat().st_mtime, reverse=True)
        except OSError:
            return
        total = 0
        for path in files:
            with contextlib.suppress(OSError):
                total += path.stat().st_size
                if total > CACHE_MAX_BYTES:
                    path.unlink()
