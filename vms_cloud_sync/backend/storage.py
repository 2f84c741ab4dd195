"""Per-tenant clip storage. Chunks are staged in a local file (so uploads resume at a byte offset with any
back end); a finished clip moves to the tenant's directory, or to the tenant's own S3 bucket."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from vms_cloud_sync.backend.settings import StorageSection


@dataclass(frozen=True)
class ClipRef:
    tenant_id: uuid.UUID
    clip_id: uuid.UUID


class ClipStore(Protocol):
    async def write(self, ref: ClipRef, offset: int, data: bytes) -> None: ...
    async def finish(self, ref: ClipRef, sha256: str) -> bool: ...
    async def local_path(self, ref: ClipRef) -> Path | None: ...
    async def read(self, ref: ClipRef, start: int, end: int) -> bytes: ...


class _Staging:
    def __init__(self, root: Path) -> None:
        self.root = root

    def tenant_dir(self, tenant_id: uuid.UUID) -> Path:
        return self.root / str(tenant_id)

    def part(self, ref: ClipRef) -> Path:
        return self.tenant_dir(ref.tenant_id) / f"{ref.clip_id}.part"

    def write_blocking(self, ref: ClipRef, offset: int, data: bytes) -> None:
        path = self.part(ref)
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = "r+b" if path.exists() else "wb"
        with path.open(mode) as fh:
            fh.truncate(offset)
            fh.seek(offset)
            fh.write(data)

    def verify_blocking(self, ref: ClipRef, sha256: str) -> bool:
        digest = hashlib.sha256()
        with self.part(ref).open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != sha256:
            self.part(ref).unlink()
            return False
        return True


class DirectoryStore(_Staging):
    """`<root>/<tenant>/<clip>`: one directory per tenant."""

    async def write(self, ref: ClipRef, offset: int, data: bytes) -> None:
        await asyncio.to_thread(self.write_blocking, ref, offset, data)

    async def finish(self, ref: ClipRef, sha256: str) -> bool:
        if not await asyncio.to_thread(self.verify_blocking, ref, sha256):
            return False
        await asyncio.to_thread(self.part(ref).replace, self.final(ref))
        return True

    def final(self, ref: ClipRef) -> Path:
        return self.tenant_dir(ref.tenant_id) / f"{ref.clip_id}.bin"

    async def local_path(self, ref: ClipRef) -> Path | None:
        return self.final(ref)

    async def read(self, ref: ClipRef, start: int, end: int) -> bytes:
        def read_blocking() -> bytes:
            with self.final(ref).open("rb") as fh:
                fh.seek(start)
                return fh.read(end - start)

        return await asyncio.to_thread(read_blocking)


class S3Store(_Staging):
    """Each tenant has its own bucket `<prefix>-<tenant id>`, created on first use."""

    def __init__(self, root: Path, config: StorageSection) -> None:
        super().__init__(root)
        import boto3

        self.prefix = config.s3_bucket_prefix
        self.client: Any = boto3.client(
            "s3", endpoint_url=config.s3_endpoint, region_name=config.s3_region,
            aws_access_key_id=config.s3_access_key, aws_secret_access_key=config.s3_secret_key)

    def bucket(self, tenant_id: uuid.UUID) -> str:
        return f"{self.prefix}-{tenant_id}"

    async def write(self, ref: ClipRef, offset: int, data: bytes) -> None:
        await asyncio.to_thread(self.write_blocking, ref, offset, data)

    async def finish(self, ref: ClipRef, sha256: str) -> bool:
        if not await asyncio.to_thread(self.verify_blocking, ref, sha256):
            return False
        await asyncio.to_thread(self._upload_blocking, ref)
        return True

    def _upload_blocking(self, ref: ClipRef) -> None:
        bucket = self.bucket(ref.tenant_id)
        try:
            self.client.head_bucket(Bucket=bucket)
        except Exception:
            self.client.create_bucket(Bucket=bucket)
        self.client.upload_file(str(self.part(ref)), bucket, str(ref.clip_id))
        self.part(ref).unlink()

    async def local_path(self, ref: ClipRef) -> Path | None:
        return None

    async def read(self, ref: ClipRef, start: int, end: int) -> bytes:
        def read_blocking() -> bytes:
            obj = self.client.get_object(Bucket=self.bucket(ref.tenant_id), Key=str(ref.clip_id),
                                         Range=f"bytes={start}-{end - 1}")
            return bytes(obj["Body"].read())

        return await asyncio.to_thread(read_blocking)


def make_store(data_dir: Path, config: StorageSection) -> ClipStore:
    root = data_dir / "clips"
    return S3Store(root, config) if config.kind == "s3" else DirectoryStore(root)
