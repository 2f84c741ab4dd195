"""The backup archive: a gzip'd tar with a manifest first, so a wrong file is recognised before anything is
written. The archive holds the master secret, so it is created readable by its owner only."""

from __future__ import annotations

import datetime as dt
import io
import os
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Literal

from pydantic import BaseModel, ValidationError

from vms_server.backup.database import BackupError

MANIFEST = "manifest.json"
FORMAT: Literal["vms-backup"] = "vms-backup"
FORMAT_VERSION = 1


class Volume(BaseModel):
    """A recording volume in the archive (`recordings/<index>/`) and where it was on the backed-up server."""

    index: int
    path: str


class Manifest(BaseModel):
    format: Literal["vms-backup"] = FORMAT
    format_version: int = FORMAT_VERSION
    version: str
    created_at: dt.datetime
    hostname: str
    database: Literal["sqlite", "postgresql"]
    schema_revision: str | None
    data_dir: str
    config: bool
    volumes: list[Volume] = []
    event_media: bool = False


@contextmanager
def writer(target: Path, compresslevel: int) -> Iterator[tarfile.TarFile]:
    """A new archive at `target` (mode 0600); a failed backup leaves no half-written file behind."""
    partial = target.with_name(target.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz", compresslevel=compresslevel) as tar:
            yield tar
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o600) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = int(dt.datetime.now(dt.UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def open_archive(path: Path) -> tarfile.TarFile:
    """Open a backup for reading. Raises BackupError for a missing, unreadable or non-tar file."""
    if not path.is_file():
        raise BackupError(f"backup file not found: {path}")
    try:
        return tarfile.open(path, mode="r:*")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"{path} is not a VMS backup (not a readable tar archive: {exc})") from None


def read_manifest(tar: tarfile.TarFile, path: Path) -> Manifest:
    """The archive's manifest. Raises BackupError when it is missing, malformed or of a newer format."""
    try:
        member = tar.extractfile(MANIFEST)
    except (KeyError, tarfile.TarError, OSError, EOFError):
        member = None
    if member is None:
        raise BackupError(f"{path} is not a VMS backup (no {MANIFEST})")
    try:
        raw = member.read()
        manifest = Manifest.model_validate_json(raw)
    except (ValidationError, OSError, EOFError, tarfile.TarError) as exc:
        first = str(exc).splitlines()[0]
        raise BackupError(f"{path} is not a VMS backup this version can read ({first})") from None
    if manifest.format_version > FORMAT_VERSION:
        raise BackupError(f"{path} was written by a newer VMS ({manifest.version}); upgrade this server first")
    return manifest


def read_member(tar: tarfile.TarFile, name: str, path: Path) -> IO[bytes]:
    try:
        member = tar.extractfile(name)
    except (KeyError, tarfile.TarError, OSError, EOFError):
        member = None
    if member is None:
        raise BackupError(f"{path} is incomplete: {name} is missing")
    return member


def extract_tree(tar: tarfile.TarFile, prefix: str, target: Path) -> int:
    """Extract every member under `prefix/` into `target`; the data filter refuses absolute paths, links out of
    the tree and device files (a crafted archive cannot write outside `target`). Returns the files written."""
    count = 0
    for member in tar.getmembers():
        if not member.name.startswith(prefix + "/"):
            continue
        relative = member.replace(name=member.name.removeprefix(prefix + "/"), deep=False)
        try:
            tar.extract(relative, target, filter="data")
        except tarfile.FilterError as exc:
            raise BackupError(f"refusing a suspicious archive member {member.name}: {exc}") from None
        count += relative.isfile()
    return count
