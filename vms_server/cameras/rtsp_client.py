"""A minimal RTSP client for diagnostics: requests with the camera's Basic or Digest challenge answered, and
each reply's status, headers, body and time. (FFmpeg, which ingest uses, exposes none of that.)"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
from typing import Protocol


class AuthNote(Protocol):
    """Where the scheme a camera asked for is noted (a diagnostics result)."""

    auth: str | None


def _authorization(challenge: str, method: str, uri: str, username: str, password: str) -> tuple[str, str]:
    """(scheme, Authorization header) answering a WWW-Authenticate challenge (RFC 2617, as RTSP uses it)."""
    if challenge.lower().startswith("basic"):
        return "basic", "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    realm, nonce = fields.get("realm", ""), fields.get("nonce", "")
    ha1 = hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest()  # noqa: S324 - RTSP digest is MD5
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()  # noqa: S324
    header = f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}"'
    if "auth" in fields.get("qop", "").split(","):
        cnonce, nc = hashlib.md5(str(time.time()).encode()).hexdigest()[:16], "00000001"  # noqa: S324
        response = hashlib.md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()  # noqa: S324
        header += f', qop=auth, nc={nc}, cnonce="{cnonce}"'
    else:
        response = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()  # noqa: S324
    return "digest", header + f', response="{response}"'


class RtspConnection:
    """A minimal RTSP client connection: requests with Basic/Digest answered, replies and their body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.cseq = reader, writer, 0
        self.body = ""
        self.challenge: str | None = None

    async def request(self, method: str, url: str, auth: str | None,
                      extra: tuple[str, ...] = ()) -> tuple[int, dict[str, str], float]:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}", "User-Agent: vms-diagnostics", *extra]
        if method == "DESCRIBE":
            lines.append("Accept: application/sdp")
        if auth:
            lines.append(f"Authorization: {auth}")
        start = time.perf_counter()
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()
        status_line = (await self.reader.readline()).decode(errors="replace").split()
        headers: dict[str, str] = {}
        while (line := (await self.reader.readline()).decode(errors="replace").strip()):
            key, _, value = line.partition(":")
            headers.setdefault(key.strip().lower(), value.strip())
        length = int(headers.get("content-length", "0") or 0)
        self.body = (await self.reader.readexactly(min(length, 1_000_000))).decode(errors="replace") if length else ""
        elapsed = (time.perf_counter() - start) * 1000
        if len(status_line) < 2 or not status_line[1].isdigit():
            raise ValueError("the answer is not RTSP")
        return int(status_line[1]), headers, round(elapsed, 2)

    async def timed(self, method: str, url: str, creds: tuple[str | None, str | None],
                    check: AuthNote) -> tuple[int, float]:
        """One request, answered once more with credentials when the camera challenges it; the time is that
        of the request that got the final answer."""
        status, _, ms = await self.send(method, url, creds, check)
        return status, ms

    async def send(self, method: str, url: str, creds: tuple[str | None, str | None], check: AuthNote | None = None,
                   extra: tuple[str, ...] = ()) -> tuple[int, dict[str, str], float]:
        """A request, with the Authorization the camera's last challenge asks for (asked again on a 401)."""
        header = None
        if self.challenge and creds[0]:
            header = _authorization(self.challenge, method, url, creds[0], creds[1] or "")[1]
        status, headers, ms = await self.request(method, url, header, extra)
        if status == 401 and "www-authenticate" in headers:
            self.challenge = headers["www-authenticate"]
            scheme = self.challenge.split()[0].lower()
            if check is not None:
                check.auth = scheme
            if creds[0] and header is None:
                header = _authorization(self.challenge, method, url, creds[0], creds[1] or "")[1]
                status, headers, ms = await self.request(method, url, header, extra)
        return status, headers, ms
