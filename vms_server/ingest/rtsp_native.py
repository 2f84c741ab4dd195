"""The RTSP handshake of the native reader: DESCRIBE, SETUP (RTP over the RTSP connection), PLAY, with Basic
and Digest authentication, and the SDP of the first H.264/H.265 video track.

Why a client of our own next to FFmpeg's: an ingest worker process demuxing 128 cameras with FFmpeg needs one
blocking thread per camera, and py-spy/strace showed those threads spending most of their time handing the GIL
to each other (tens of thousands of futex calls a second). After this handshake the socket is handed to one
thread (`reactor.py`) that reads every camera of the process. Only what that needs is here: TCP interleaved
transport, one video track; anything else (UDP, MJPEG, rtsps) stays with FFmpeg. Blocking; runs on the stream's
own thread.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from vms_server.ingest.health import StreamState
from vms_server.ingest.source import SourceError

_CODECS = {"H264": "h264", "H265": "hevc"}
_USER_AGENT = "vms-server native-rtsp"
_MAX_HEADER = 65_536


@dataclass(frozen=True)
class Track:
    """The video track a session plays: codec, RTP payload type and clock, its control URL and the decoder's
    parameter sets from the SDP (each a NAL unit without start code)."""

    codec: str
    payload_type: int
    clock_rate: int
    control: str
    parameter_sets: tuple[bytes, ...]
    framerate: float | None


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Handshake:
    """A playing session: its socket (blocking, timeouts set), the track, and bytes already read past PLAY's
    answer (the first interleaved packets often come in the same read)."""

    sock: socket.socket
    track: Track
    session: str
    session_timeout_s: float
    request_url: str
    auth: Authenticator
    leftover: bytes = b""
    cseq: int = 4


@dataclass
class Authenticator:
    """Answers a 401 challenge (RFC 2617 Digest with MD5, qop=auth or none; or Basic) for every later request."""

    username: str
    password: str
    scheme: str = ""
    params: dict[str, str] = field(default_factory=dict)
    count: int = 0

    def challenge(self, header: str) -> bool:
        """Take a WWW-Authenticate header; False when it cannot be answered (or there are no credentials)."""
        scheme, _, rest = header.strip().partition(" ")
        if not self.username or scheme.lower() not in ("digest", "basic"):
            return False
        self.scheme, self.params, self.count = scheme.lower(), _auth_params(rest), 0
        return True

    def header(self, method: str, uri: str) -> str | None:
        if self.scheme == "basic":
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return f"Basic {token}"
        if self.scheme != "digest":
            return None
        realm, nonce = self.params.get("realm", ""), self.params.get("nonce", "")
        ha1 = _md5(f"{self.username}:{realm}:{self.password}")
        ha2 = _md5(f"{method}:{uri}")
        fields = {"username": self.username, "realm": realm, "nonce": nonce, "uri": uri}
        qops = [q.strip() for q in self.params.get("qop", "").split(",") if q.strip()]
        if "auth" in qops:
            self.count += 1
            nc, cnonce = f"{self.count:08x}", os.urandom(8).hex()
            fields.update(response=_md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"), qop="auth", nc=nc,
                          cnonce=cnonce)
        else:
            fields["response"] = _md5(f"{ha1}:{nonce}:{ha2}")
        if "opaque" in self.params:
            fields["opaque"] = self.params["opaque"]
        unquoted = {"qop", "nc"}
        return "Digest " + ", ".join(f"{k}={v}" if k in unquoted else f'{k}="{v}"' for k, v in fields.items())


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _auth_params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        eq = text.find("=", pos)
        if eq < 0:
            break
        key = text[pos:eq].strip(" ,").lower()
        pos = eq + 1
        if pos < len(text) and text[pos] == '"':
            end = text.find('"', pos + 1)
            end = len(text) if end < 0 else end
            params[key], pos = text[pos + 1 : end], end + 1
        else:
            end = text.find(",", pos)
            end = len(text) if end < 0 else end
            params[key], pos = text[pos:end].strip(), end + 1
    return params


def parse_sdp(sdp: str, base_url: str) -> Track:
    """The first H.264/H.265 video track of a session description; SourceError(UNSUPPORTED) without one."""
    media: list[list[str]] = []
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            media.append([line])
        elif media:
            media[-1].append(line)
    seen: list[str] = []
    for block in media:
        head = block[0][2:].split()
        if len(head) < 4 or head[0] != "video":
            continue
        pt = int(head[3])
        attrs = [line[2:] for line in block[1:] if line.startswith("a=")]
        rtpmap = next((a.split(None, 1)[1] for a in attrs if a.startswith(f"rtpmap:{pt} ")), "")
        name, _, rest = rtpmap.partition("/")
        seen.append(name or f"payload type {pt}")
        codec = _CODECS.get(name.upper())
        if codec is None:
            continue
        clock = int(rest.split("/")[0]) if rest else 90_000
        fmtp = next((a.split(None, 1)[1] for a in attrs if a.startswith(f"fmtp:{pt} ") and " " in a), "")
        control = next((a[8:] for a in attrs if a.startswith("control:")), "")
        rate = next((a[10:] for a in attrs if a.startswith("framerate:")), "")
        return Track(codec=codec, payload_type=pt, clock_rate=clock,
                     control=_control_url(base_url, control), parameter_sets=_parameter_sets(fmtp),
                     framerate=_float(rate))
    found = ", ".join(seen) or "none"
    raise SourceError(StreamState.UNSUPPORTED, f"no H.264/H.265 video track in the camera's SDP (found: {found})",
                      retry=False)


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value > 0 else None


def _control_url(base: str, control: str) -> str:
    if not control or control == "*":
        return base
    if "://" in control:
        return control
    return urljoin(base if base.endswith("/") else base + "/", control)


def _parameter_sets(fmtp: str) -> tuple[bytes, ...]:
    """sprop-parameter-sets (H.264) or sprop-vps/sps/pps (H.265), in that order."""
    values: dict[str, str] = {}
    for part in fmtp.split(";"):
        key, _, value = part.strip().partition("=")
        values[key.strip().lower()] = value.strip()
    names = (["sprop-parameter-sets"] if "sprop-parameter-sets" in values
             else ["sprop-vps", "sprop-sps", "sprop-pps"])
    sets: list[bytes] = []
    for name in names:
        for item in values.get(name, "").split(","):
            if item:
                try:
                    sets.append(base64.b64decode(item + "=" * (-len(item) % 4)))
                except ValueError:
                    continue
    return tuple(s for s in sets if s)


class _Connection:
    """The blocking request/answer half of the handshake over one socket."""

    def __init__(self, sock: socket.socket, auth: Authenticator) -> None:
        self.sock, self.auth, self.cseq, self.buf = sock, auth, 0, b""
        self.session = ""

    def request(self, method: str, url: str, headers: dict[str, str] | None = None) -> Response:
        answer = self._send(method, url, headers or {})
        if answer.status == 401 and self.auth.challenge(answer.headers.get("www-authenticate", "")):
            answer = self._send(method, url, headers or {})
        if answer.status in (401, 403):
            raise SourceError(StreamState.UNAUTHORISED, "the camera refused the credentials (401/403)")
        if answer.status == 404:
            raise SourceError(StreamState.OFFLINE, "the camera has no stream at this path (404)")
        if answer.status >= 300:
            raise SourceError(StreamState.OFFLINE, f"the camera answered {method} with {answer.status} "
                              f"{answer.reason}")
        return answer

    def _send(self, method: str, url: str, headers: dict[str, str]) -> Response:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}", f"User-Agent: {_USER_AGENT}"]
        authorization = self.auth.header(method, url)
        if authorization:
            lines.append(f"Authorization: {authorization}")
        if self.session:
            lines.append(f"Session: {self.session}")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return self._read()

    def _read(self) -> Response:
        while True:
            while self.buf.startswith(b"$"):  # media ahead of an answer (a camera that starts early): skip it
                if len(self.buf) < 4:
                    self._more()
                    continue
                size = 4 + int.from_bytes(self.buf[2:4], "big")
                while len(self.buf) < size:
                    self._more()
                self.buf = self.buf[size:]
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buf) > _MAX_HEADER:
                raise SourceError(StreamState.OFFLINE, "the camera sent data that cannot be parsed")
            self._more()
        head, self.buf = self.buf[:end].decode("latin-1"), self.buf[end + 4 :]
        first, *rest = head.split("\r\n")
        parts = first.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("RTSP/") or not parts[1].isdigit():
            raise SourceError(StreamState.OFFLINE, "the camera sent data that cannot be parsed")
        headers = {}
        for line in rest:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        while len(self.buf) < length:
            self._more()
        body, self.buf = self.buf[:length], self.buf[length:]
        return Response(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, body)

    def _more(self) -> None:
        try:
            data = self.sock.recv(65_536)
        except TimeoutError:
            raise SourceError(StreamState.OFFLINE, "timed out waiting for the camera") from None
        if not data:
            raise SourceError(StreamState.OFFLINE, "the camera closed the stream")
        self.buf += data


def split_url(url: str) -> tuple[str, int, str, str, str]:
    """Host, port, the URL without credentials (what requests carry), user and password."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "rtsp" or not parts.hostname:
        raise SourceError(StreamState.UNSUPPORTED, "the native reader takes rtsp:// URLs only", retry=False)
    host = parts.hostname
    port = parts.port or 554
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    clean = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    return host, port, clean, unquote(parts.username or ""), unquote(parts.password or "")


def handshake(url: str, timeout_s: float) -> Handshake:
    """Connect, describe, set up the video track over the RTSP connection and play. Raises SourceError."""
    host, port, clean, user, password = split_url(url)
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except ConnectionRefusedError:
        raise SourceError(StreamState.OFFLINE, "connection refused: nothing listens at this address") from None
    except TimeoutError:
        raise SourceError(StreamState.OFFLINE, "timed out waiting for the camera") from None
    except OSError as exc:
        raise SourceError(StreamState.OFFLINE, f"stream error: {exc.strerror or type(exc).__name__}") from None
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Connection(sock, Authenticator(user, password))
        described = conn.request("DESCRIBE", clean, {"Accept": "application/sdp"})
        base = described.headers.get("content-base") or described.headers.get("content-location") or clean
        track = parse_sdp(described.body.decode("utf-8", "replace"), base)
        setup = conn.request("SETUP", track.control, {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
        transport = setup.headers.get("transport", "")
        if "interleaved" not in transport.lower():
            raise SourceError(StreamState.UNSUPPORTED, "the camera did not agree to RTP over the RTSP "
                              "connection (TCP interleaved)", retry=False)
        session, _, options = setup.headers.get("session", "").partition(";")
        conn.session = session.strip()
        timeout = 60.0
        for option in options.split(";"):
            key, _, value = option.strip().partition("=")
            if key.lower() == "timeout" and value.strip().isdigit():
                timeout = float(value)
        conn.request("PLAY", base, {"Range": "npt=0.000-"})
        return Handshake(sock=sock, track=track, session=conn.session, session_timeout_s=timeout,
                         request_url=clean, auth=conn.auth, leftover=conn.buf, cseq=conn.cseq)
    except SourceError:
        sock.close()
        raise
    except (OSError, ValueError, UnicodeError) as exc:
        sock.close()
        if isinstance(exc, TimeoutError):
            raise SourceError(StreamState.OFFLINE, "timed out waiting for the camera") from None
        raise SourceError(StreamState.OFFLINE, f"stream error: {type(exc).__name__}") from None


def session_request(shake: Handshake, method: str) -> bytes:
    """A request within the playing session: OPTIONS keeps it alive (every server answers OPTIONS; the answer is
    skipped by the interleaved reader), TEARDOWN ends it."""
    shake.cseq += 1
    lines = [f"{method} {shake.request_url} RTSP/1.0", f"CSeq: {shake.cseq}", f"User-Agent: {_USER_AGENT}",
             f"Session: {shake.session}"]
    authorization = shake.auth.header(method, shake.request_url)
    if authorization:
        lines.append(f"Authorization: {authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
