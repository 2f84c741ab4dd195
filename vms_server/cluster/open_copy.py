"""This node's copies of the segments other nodes are writing, kept up to date by fetching only what was added.

Playback and export of the last seconds of a camera recorded by another node read the owner's open segment
(`LiveProxy.open_file`). Fetching the whole file for every request costs a segment's worth of network and disk
per click (a 4 Mbit/s camera's 60 s segment is 30 MB) while an operator scrubs near the live end. The owner's
open segment is fragmented MP4 written append-only (moov first, then moof/mdat pairs), so a copy stays a
byte-exact prefix of it: the next request asks only for the bytes after the copy (an HTTP range that starts
one byte before the copy's end, so that an answer is always possible while the file has not shrunk, and that
byte is compared with the copy's last one). A different segment (its start time changed), a shorter file, or
an answer that does not line up fetches the whole file again into a new copy, replaced atomically: a remux
that opened the previous copy keeps reading it. Appending in place is safe for a reader of the same copy: the
bytes it reads never change, and a trailing fragment still being written reads as the end of the file, as it
did before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import aiohttp

logger = logging.getLogger(__name__)
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


@dataclass
class OpenCopy:
    start_us: int  # the owner's segment start: which segment this is a copy of
    path: Path
    length: int
    last_us: int


class OpenCopies:
    """Copies per camera and stream, one fetch at a time each; `fetched` counts fetches and bytes per kind
    ("full" or "tail"), exported by /metrics so that a site can see what playback near the live end costs."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._copies: dict[tuple[uuid.UUID, str], OpenCopy] = {}
        self._locks: defaultdict[tuple[uuid.UUID, str], asyncio.Lock] = defaultdict(asyncio.Lock)
        self.fetches = {"full": 0, "tail": 0}
        self.bytes = {"full": 0, "tail": 0}

    async def get(self, http: aiohttp.ClientSession, url: str, params: dict[str, str], ssl: aiohttp.Fingerprint | bool,
                  camera_id: uuid.UUID, stream: str, segment_start_us: int) -> tuple[Path, int, int] | None:
        """(path, start_us, last_us) of an up-to-date copy of the owner's open segment of `camera_id`/`stream`
        (`segment_start_us` as the owner last reported it), or None when the owner has no such segment open.
        Raises aiohttp.ClientError, OSError, TimeoutError, KeyError or ValueError when the owner cannot be read."""
        key = (camera_id, stream)
        async with self._locks[key]:
            copy = self._copies.get(key)
            fresh = copy is not None and copy.start_us == segment_start_us and copy.length > 0
            if copy is not None and fresh and await self._tail(http, url, params, ssl, copy):
                return copy.path, copy.start_us, copy.last_us
            return await self._whole(http, url, params, ssl, key)

    async def _tail(self, http: aiohttp.ClientSession, url: str, params: dict[str, str],
                    ssl: aiohttp.Fingerprint | bool, copy: OpenCopy) -> bool:
        """Append what the owner wrote after `copy`; False when the answer shows the copy is not a prefix of
        the owner's file any more (the caller fetches it whole)."""
        if not await asyncio.to_thread(copy.path.is_file):
            return False
        headers = {"Range": f"bytes={copy.length - 1}-"}
        async with http.get(url, params=params, ssl=ssl, headers=headers) as resp:
            if resp.status != 206 or int(resp.headers["X-Start-Us"]) != copy.start_us:
                return False
            match = _RANGE.fullmatch(resp.headers.get("Content-Range", ""))
            if match is None or int(match.group(1)) != copy.length - 1:
                return False
            body = await resp.read()
            last_us = int(resp.headers["X-Last-Us"])
        if not body or body[:1] != await asyncio.to_thread(_last_byte, copy.path, copy.length):
            return False
        await asyncio.to_thread(_append, copy.path, copy.length, body[1:])
        copy.length += len(body) - 1
        copy.last_us = last_us
        self.fetches["tail"] += 1
        self.bytes["tail"] += len(body)
        return True

    async def _whole(self, http: aiohttp.ClientSession, url: str, params: dict[str, str],
                     ssl: aiohttp.Fingerprint | bool, key: tuple[uuid.UUID, str]) -> tuple[Path, int, int] | None:
        self._copies.pop(key, None)
        target = self.cache_dir / f"open-{key[0]}-{key[1]}.mp4"
        part = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            await asyncio.to_thread(self.cache_dir.mkdir, parents=True, exist_ok=True)
            async with http.get(url, params=params, ssl=ssl) as resp:
                if resp.status != 200:
                    return None
                first, last = int(resp.headers["X-Start-Us"]), int(resp.headers["X-Last-Us"])
                body = await resp.read()
            await asyncio.to_thread(part.write_bytes, body)
            await asyncio.to_thread(part.replace, target)
        except BaseException:
            with contextlib.suppress(OSError):
                part.unlink()
            raise
        self.fetches["full"] += 1
        self.bytes["full"] += len(body)
        self._copies[key] = OpenCopy(first, target, len(body), last)
        return target, first, last


def _last_byte(path: Path, length: int) -> bytes:
    with path.open("rb") as f:
        f.seek(length - 1)
        return f.read(1)


def _append(path: Path, length: int, data: bytes) -> None:
    """Write `data` at `length` (the copy's end: anything after it, from an append cut short, is overwritten)."""
    with path.open("r+b") as f:
        f.seek(length)
        f.write(data)
        f.truncate()
