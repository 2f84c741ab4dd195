"""Test helpers: a raw RTSP client (to send exactly the bytes a test wants) and small configs."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import struct
from dataclasses import dataclass, field

from vms_camsim import CameraConfig, Codec, StreamConfig


def small_stream(codec: Codec = Codec.H264, width: int = 320, height: int = 176, fps: int = 25,
                 kbps: int = 400) -> StreamConfig:
    """A cheap stream for tests (sizes are multiples of 8 so MJPEG accepts them too)."""
    return StreamConfig(codec=codec, width=width, height=height, fps=fps, bitrate_kbps=kbps)


def small_camera(name: str, codec: Codec = Codec.H264, **kwargs: object) -> CameraConfig:
    """A camera with a small main stream, a smaller 10 fps sub stream and a 2 s loop."""
    values: dict[str, object] = {
        "name": name, "main": small_stream(codec), "sub": small_stream(codec, 160, 96, 10, 150),
        "loop_seconds": 2,
    }
    values.update(kwargs)
    return CameraConfig.model_validate(values)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class RtpPacket:
    channel: int
    data: bytes

    @property
    def seq(self) -> int:
        return int(struct.unpack_from(">H", self.data, 2)[0])

    @property
    def timestamp(self) -> int:
        return int(struct.unpack_from(">I", self.data, 4)[0])

    @property
    def ssrc(self) -> int:
        return int(struct.unpack_from(">I", self.data, 8)[0])

    @property
    def marker(self) -> bool:
        return bool(self.data[1] & 0x80)

    @property
    def payload(self) -> bytes:
        return self.data[12:]


@dataclass
class RawRtsp:
    """A minimal RTSP client that keeps interleaved packets that arrive between responses."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    cseq: int = 0
    packets: list[RtpPacket] = field(default_factory=list)

    @classmethod
    async def connect(cls, port: int) -> RawRtsp:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def request(self, method: str, url: str, headers: dict[str, str] | None = None) -> Response:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        await self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode())
        return await self.read_response()

    async def read_response(self) -> Response:
        return await asyncio.wait_for(self._read_response(), 5.0)

    async def _read_response(self) -> Response:
        while True:
            first = await self.reader.readexactly(1)
            if first == b"$":
                await self._read_packet()
                continue
            status_line = first + await self.reader.readuntil(b"\r\n")
            break
        headers: dict[str, str] = {}
        while True:
            line = (await self.reader.readuntil(b"\r\n")).decode().strip()
            if not line:
                break
            name, _, value = line.partition(":")
            key = name.strip().lower()
            headers[key] = headers[key] + "\n" + value.strip() if key in headers else value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return Response(int(status_line.split()[1]), headers, body)

    async def _read_packet(self) -> RtpPacket:
        head = await self.reader.readexactly(3)
        data = await self.reader.readexactly(int.from_bytes(head[1:3], "big"))
        packet = RtpPacket(head[0], data)
        self.packets.append(packet)
        return packet

    async def read_packets(self, seconds: float) -> list[RtpPacket]:
        """Collect interleaved packets for ``seconds``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        start = len(self.packets)
        while (left := deadline - loop.time()) > 0:
            try:
                first = await asyncio.wait_for(self.reader.readexactly(1), left)
            except TimeoutError:
                break
            assert first == b"$", f"unexpected byte {first!r} in the media stream"
            await self._read_packet()
        return self.packets[start:]

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def digest_header(method: str, uri: str, challenge: str, user: str, password: str) -> str:
    """Authorization value answering a Digest challenge (RFC 2617 without qop)."""
    params = dict(part.strip().split("=", 1) for part in challenge[len("Digest "):].split(","))
    realm, nonce = params["realm"].strip('"'), params["nonce"].strip('"')

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    response = md5(f"{md5(f'{user}:{realm}:{password}')}:{nonce}:{md5(f'{method}:{uri}')}")
    return f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", response="{response}"'


def soap_request(body: str, username: str = "admin", password: str = "admin") -> bytes:
    """A SOAP 1.2 envelope around ``body`` with a fresh WS-Security UsernameToken digest (for services
    the ONVIF client libraries carry no WSDL for, and for exact bytes)."""
    import base64
    import datetime as dt
    import os

    nonce = os.urandom(16)
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
    wss = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-"
    return (f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>'
            f'<Security xmlns="{wss}wssecurity-secext-1.0.xsd"><UsernameToken><Username>{username}</Username>'
            f'<Password Type="{wss}username-token-profile-1.0#PasswordDigest">{digest}</Password>'
            f"<Nonce>{base64.b64encode(nonce).decode()}</Nonce>"
            f'<Created xmlns="{wss}wssecurity-utility-1.0.xsd">{created}</Created></UsernameToken></Security>'
            f"</s:Header><s:Body>{body}</s:Body></s:Envelope>").encode()
