"""The client installers an operator downloads from the server itself (`GET /downloads/{name}`), listed on the
landing page with their size and SHA-256.

Control-room PCs often reach nothing but the recording server, so the server hands out the client, as Nx Witness
and Milestone do. Site IT puts the packages they want to offer (the `vms-desktop` DEB, the Windows MSI) in the
downloads folder (`[server] downloads_dir`, default `<data_dir>/downloads`); nothing is bundled or fetched.

Public like the landing page: an installer holds no secret. Only plain files with an installer's extension and a
plain name are offered; a link, a sub-folder or any other file in the folder is neither listed nor served, so a
name in the URL can never reach outside the folder.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.errors import NotFound
from vms_server import keys
from vms_server.settings import Settings

logger = logging.getLogger(__name__)
router = ApiRouter(prefix="")

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
EXTENSIONS = (".deb", ".msi", ".exe", ".appimage", ".rpm", ".zip")
# Hashes of what is offered, by (name, size, mtime): an installer is 100+ MB and the page is reloaded often.
_HASHES: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class Download:
    name: str
    size: int
    sha256: str
    path: Path


def downloads_dir(settings: Settings) -> Path:
    return settings.server.downloads_dir or settings.data_dir / "downloads"


def _offered(path: Path) -> bool:
    """A plain file (not a link) with a plain installer name."""
    if not NAME.fullmatch(path.name) or not path.name.lower().endswith(EXTENSIONS):
        return False
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    key = (str(path), size, mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


def list_downloads(folder: Path) -> list[Download]:
    """What the folder offers, by name; an absent folder offers nothing."""
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    found = []
    for path in entries:
        if not _offered(path):
            continue
        info = path.lstat()
        found.append(Download(path.name, info.st_size, _sha256(path, info.st_size, info.st_mtime_ns), path))
    return found


@router.route("GET", "/downloads/{name}", role=None, media_type="application/octet-stream", tags=["health"],
              errors=(404,))
async def download(call: Call[NoBody]) -> web.StreamResponse:
    """A client installer from the downloads folder (the landing page lists them with their SHA-256)."""
    name = call.request.match_info["name"]
    folder = downloads_dir(call.app[keys.SETTINGS])
    path = folder / name
    if not NAME.fullmatch(name) or not await asyncio.to_thread(_offered, path):
        raise NotFound(f"no download named '{name[:64]}'")
    logger.info("client download %s to %s", name, call.request.remote)
    return web.FileResponse(path, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                           "Content-Type": "application/octet-stream",
                                           "Cache-Control": "no-cache"})
