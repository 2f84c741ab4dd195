"""HTTP client of the cloud backend's edge API. Network trouble and 5xx become CloudUnavailable (retry
later); a refusal (4xx) becomes CloudRefused with the backend's message (retrying will not help)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel

from vms_cloud_sync.protocol.sync import (
    ActionsDone,
    ActionsDoneOut,
    ClipStart,
    ClipState,
    EdgeActionList,
    EnrolIn,
    EnrolOut,
    HeartbeatIn,
    IngestBatch,
    IngestResult,
    LicenceOut,
    SettingsOut,
)
from vms_common.tls import pinned

M = TypeVar("M", bound=BaseModel)
TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10)


class CloudUnavailable(Exception):
    """The backend could not be reached or failed; try again later."""


class CloudRefused(Exception):
    """The backend refused the request (bad credential, invalid item); `status` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"cloud refused the request ({status}): {message}")
        self.status = status


async def _json_or_raise(resp: aiohttp.ClientResponse, model: type[M]) -> M:
    text = await resp.text()
    if resp.status >= 500:
        raise CloudUnavailable(f"cloud answered {resp.status}")
    if resp.status >= 400:
        try:
            message = str(json.loads(text)["error"]["message"])
        except (ValueError, KeyError, TypeError):
            message = text[:200]
        raise CloudRefused(resp.status, message)
    return model.model_validate_json(text)


def _connector(fingerprint: str | None) -> aiohttp.TCPConnector:
    """Pinned: only the backend certificate with this SHA-256 fingerprint is accepted (a self-signed backend);
    otherwise the certificate is verified against the system's CAs, as any HTTPS client does."""
    return aiohttp.TCPConnector(ssl=pinned(fingerprint) if fingerprint else True)


def _unreachable(where: str, exc: BaseException) -> CloudUnavailable:
    if isinstance(exc, aiohttp.ServerFingerprintMismatch):
        return CloudUnavailable(f"{where} presented a certificate other than the pinned one (interception, or "
                                "the backend's certificate changed: enrol again with its new fingerprint)")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return CloudUnavailable(f"{where}: certificate not trusted ({exc.certificate_error}); a self-signed "
                                "backend is pinned with --fingerprint")
    return CloudUnavailable(f"cannot reach {where}: {type(exc).__name__}: {exc}")


async def enrol(cloud_url: str, body: EnrolIn, fingerprint: str | None = None) -> EnrolOut:
    """Redeem a one-time enrolment token. Raises CloudUnavailable or CloudRefused."""
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT, connector=_connector(fingerprint)) as http, \
                http.post(f"{cloud_url.rstrip('/')}/api/v1/edge/enrol", json=body.model_dump(mode="json")) as resp:
            return await _json_or_raise(resp, EnrolOut)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise _unreachable(cloud_url, exc) from None


class RateLimit:
    """A token bucket in bytes per second; 0 means unlimited."""

    def __init__(self, bytes_per_s: float) -> None:
        self.rate = bytes_per_s
        self.started = time.monotonic()
        self.sent = 0

    async def take(self, n: int) -> None:
        if self.rate <= 0:
            return
        self.sent += n
        ahead = self.sent / self.rate - (time.monotonic() - self.started)
        if ahead > 0:
            await asyncio.sleep(ahead)


class CloudClient:
    def __init__(self, base_url: str, credential: str, fingerprint: str | None = None) -> None:
        self.base = base_url.rstrip("/") + "/api/v1/edge"
        self._http = aiohttp.ClientSession(timeout=TIMEOUT, headers={"Authorization": f"Bearer {credential}"},
                                           connector=_connector(fingerprint))

    async def close(self) -> None:
        await self._http.close()

    async def _request(self, method: str, path: str, model: type[M], **kwargs: Any) -> M:
        try:
            async with self._http.request(method, self.base + path, **kwargs) as resp:
                return await _json_or_raise(resp, model)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _unreachable("the cloud backend", exc) from None

    async def ingest(self, batch: IngestBatch) -> IngestResult:
        return await self._request("POST", "/ingest", IngestResult, data=batch.model_dump_json(),
                                   headers={"Content-Type": "application/json"})

    async def heartbeat(self, beat: HeartbeatIn) -> None:
        """A backend older than the cameras' `model` or the `analytics_sla` field refuses them (422): the
        heartbeat is sent again without them (those analytics samples are lost to HQ), so upgrading a site
        before HQ keeps its health reaching HQ."""
        try:
            await self._request("POST", "/heartbeat", SettingsOut, data=beat.model_dump_json(exclude_none=True),
                                headers={"Content-Type": "application/json"})
        except CloudRefused as exc:
            if exc.status != 422 or (all(c.model is None for c in beat.cameras) and beat.analytics_sla is None):
                raise
            older = beat.model_copy(update={"cameras": [c.model_copy(update={"model": None}) for c in beat.cameras],
                                            "analytics_sla": None})
            await self._request("POST", "/heartbeat", SettingsOut, data=older.model_dump_json(exclude_none=True),
                                headers={"Content-Type": "application/json"})

    async def licence(self) -> LicenceOut:
        return await self._request("GET", "/licence", LicenceOut)

    async def settings(self) -> SettingsOut:
        return await self._request("GET", "/settings", SettingsOut)

    async def actions(self, limit: int) -> EdgeActionList:
        """HQ's actions on this site that it has not confirmed yet, oldest first."""
        return await self._request("GET", f"/actions?limit={limit}", EdgeActionList)

    async def actions_done(self, done: ActionsDone) -> ActionsDoneOut:
        return await self._request("POST", "/actions/done", ActionsDoneOut, data=done.model_dump_json(),
                                   headers={"Content-Type": "application/json"})

    async def upload_clip(self, path: Path, start: ClipStart, chunk_bytes: int, limit: RateLimit) -> ClipState:
        """Upload a clip from where the backend says it stopped; each chunk carries its SHA-256."""
        state = await self._request("POST", "/clips", ClipState, data=start.model_dump_json(),
                                    headers={"Content-Type": "application/json"})
        while not state.complete and state.received < state.size:
            chunk = await asyncio.to_thread(_read_chunk_blocking, path, state.received, chunk_bytes)
            if not chunk:
                raise CloudRefused(409, f"local clip {path.name} is shorter than announced")
            await limit.take(len(chunk))
            state = await self._request(
                "PUT", f"/clips/{state.clip_id}/chunks?offset={state.received}", ClipState, data=chunk,
                headers={"Content-Type": "application/octet-stream",
                         "X-Chunk-Sha256": hashlib.sha256(chunk).hexdigest()})
        if not state.complete:
            state = await self._request("POST", f"/clips/{state.clip_id}/complete", ClipState)
        return state


def _read_chunk_blocking(path: Path, offset: int, size: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(offset)
        return fh.read(size)


def file_sha256_blocking(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
