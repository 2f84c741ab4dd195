"""A node's copy of another node's open segment is brought up to date with only the bytes the owner added, and
fetched whole again whenever it could no longer be a prefix of the owner's file. The owner here is an aiohttp
route serving a file the way the cluster's open/file route does (FileResponse, with its span headers)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from vms_server.cluster.open_copy import OpenCopies

CAMERA = uuid.uuid4()


async def test_only_the_added_bytes_are_fetched_until_the_segment_changes(tmp_path: Path,
                                                                          aiohttp_server: Any) -> None:
    owner = {"path": tmp_path / "owner.mp4", "start": 1_000, "last": 1_500, "open": True}
    owner_file: Path = owner["path"]  # type: ignore[assignment]
    owner_file.write_bytes(os.urandom(1000))

    async def open_file(request: web.Request) -> web.StreamResponse:
        if not owner["open"]:
            raise web.HTTPNotFound()
        return web.FileResponse(owner_file, headers={"X-Start-Us": str(owner["start"]),
                                                     "X-Last-Us": str(owner["last"])})

    app = web.Application()
    app.router.add_get("/open/file", open_file)
    server = await aiohttp_server(app)
    copies = OpenCopies(tmp_path / "cache")

    async def fetch(start: int) -> tuple[Path, int, int] | None:
        async with aiohttp.ClientSession() as http:
            return await copies.get(http, str(server.make_url("/open/file")), {}, False, CAMERA, "main", start)

    got = await fetch(1_000)
    assert got is not None and got[1:] == (1_000, 1_500) and got[0].read_bytes() == owner_file.read_bytes()
    assert copies.fetches == {"full": 1, "tail": 0} and copies.bytes["full"] == 1000

    with owner_file.open("ab") as f:  # the owner flushes more fragments
        f.write(os.urandom(500))
    owner["last"] = 2_500
    got = await fetch(1_000)
    assert got is not None and got[2] == 2_500 and got[0].read_bytes() == owner_file.read_bytes()
    assert copies.fetches == {"full": 1, "tail": 1} and copies.bytes["tail"] == 501  # one byte to line up

    got = await fetch(1_000)  # nothing new: one byte crosses the network
    assert got is not None and got[0].read_bytes() == owner_file.read_bytes()
    assert copies.fetches == {"full": 1, "tail": 2} and copies.bytes["tail"] == 502

    owner_file.write_bytes(os.urandom(300))  # the next segment: a new start time, a new file
    owner["start"], owner["last"] = 9_000, 9_100
    got = await fetch(9_000)
    assert got is not None and got[1] == 9_000 and got[0].read_bytes() == owner_file.read_bytes()
    assert copies.fetches["full"] == 2

    owner_file.write_bytes(os.urandom(200))  # shorter than the copy under the same start: not a prefix now
    got = await fetch(9_000)
    assert got is not None and got[0].read_bytes() == owner_file.read_bytes()
    assert copies.fetches == {"full": 3, "tail": 2}

    data = bytearray(owner_file.read_bytes())
    data[-1] ^= 0xFF  # the copy's last byte no longer matches the owner's: fetched whole, not appended to
    owner_file.write_bytes(bytes(data) + os.urandom(50))
    got = await fetch(9_000)
    assert got is not None and got[0].read_bytes() == owner_file.read_bytes()
    assert copies.fetches == {"full": 4, "tail": 2}

    owner["open"] = False  # the owner closed its segment: nothing to copy
    assert await fetch(9_000) is None
