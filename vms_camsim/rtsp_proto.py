"""RTSP/1.0 message parsing, authentication (Basic and Digest) and SDP (RFC 2326, 2617, 4566).

Everything here is pure and synchronous, so the connection handler stays small and the parsing
rules can be tested on their own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from vms_camsim.config import AuthMode, Codec
from vms_camsim.encoder import ParameterSets
from vms_camsim.errors import SimulatorError
from vms_camsim.rtp import payload_type

MAX_HEADER_LINES = 64
MAX_BODY = 65_536
REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 451: "Parameter Not Understood", 454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed", 461: "Unsupported Transport", 500: "Internal Server Error",
    501: "Not Implemented", 503: "Service Unavailable", 505: "RTSP Version Not Supported",
    551: "Option not supported",
}
METHODS = ("OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER")


class RtspError(SimulatorError):
    """A request the simulator answers with an error status."""

    def __init__(self, status: int, detail: str = "", headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or REASONS.get(status, ""))
        self.status = status
        self.headers = headers or {}


@dataclass
class Request:
    """A parsed RTSP request; header names are lower-cased."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def cseq(self) -> str:
        """The CSeq header (validated as a non-negative integer by :func:`parse_head`)."""
        return self.headers["cseq"]


def parse_head(lines: list[bytes]) -> Request:
    """Parse the request line and headers. Raises RtspError(400/505) on anything malformed."""
    try:
        text = [line.decode("utf-8").rstrip("\r\n") for line in lines]
    except UnicodeDecodeError as exc:
        raise RtspError(400, "request is not UTF-8") from exc
    parts = text[0].split(" ")
    if len(parts) != 3 or not parts[0].replace("_", "").isalpha():
        raise RtspError(400, "malformed request line")
    method, url, version = parts
    headers: dict[str, str] = {}
    for line in text[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise RtspError(400, f"malformed header line {line[:40]!r}")
        headers[name.strip().lower()] = value.strip()
    cseq = headers.get("cseq", "")
    if not (cseq.isascii() and cseq.isdigit() and len(cseq) <= 10):  # isdigit() alone takes '²
        raise RtspError(400, "missing or invalid CSeq")
    if version != "RTSP/1.0":
        raise RtspError(505, headers={"CSeq": headers["cseq"]})
    return Request(method.upper(), url, headers)


@dataclass(frozen=True, slots=True)
class Target:
    """What a request URL points at: camera, stream (main/sub) and optional track."""

    camera: str
    stream: str
    track: str | None


def parse_target(url: str) -> Target | None:
    """Split ``rtsp://host:port/cam1/main[/trackID=0]``; None when the path has another shape."""
    try:
        path = urlsplit(url).path if "://" in url else url
    except ValueError:
        return None
    segments = [s for s in path.split("/") if s]
    if len(segments) == 2:
        return Target(segments[0], segments[1], None)
    if len(segments) == 3:
        return Target(segments[0], segments[1], segments[2])
    return None


def parse_auth_params(value: str) -> dict[str, str]:
    """Parse ``key="value", key=value`` pairs of a Digest Authorization header."""
    params: dict[str, str] = {}
    rest = value
    while rest:
        key, sep, rest = rest.partition("=")
        if not sep:
            break
        rest = rest.lstrip()
        if rest.startswith('"'):
            end = rest.find('"', 1)
            end = len(rest) if end < 0 else end
            params[key.strip().lower()] = rest[1:end]
            rest = rest[end + 1 :]
        else:
            val, _, rest = rest.partition(",")
            params[key.strip().lower()] = val.strip()
        rest = rest.lstrip(" ,")
    return params


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class Authenticator:
    """Checks Basic and Digest credentials for one camera; nonces are HMACs, so no state is kept."""

    NONCE_TTL_S = 300

    def __init__(self, realm: str, username: str, password: str, mode: AuthMode, refuse: bool) -> None:
        self.realm, self.username, self.password = realm, username, password
        self.mode, self.refuse = mode, refuse
        self._secret = secrets.token_bytes(16)

    def challenge(self) -> dict[str, str]:
        """WWW-Authenticate header(s) for a 401 (Digest preferred, Basic when allowed)."""
        values = []
        if self.mode in (AuthMode.DIGEST, AuthMode.ANY):
            values.append(f'Digest realm="{self.realm}", nonce="{self._nonce()}", algorithm=MD5')
        if self.mode in (AuthMode.BASIC, AuthMode.ANY):
            values.append(f'Basic realm="{self.realm}"')
        return {"WWW-Authenticate": values[0], **({"WWW-Authenticate#2": values[1]} if len(values) > 1 else {})}

    def _nonce(self, stamp: int | None = None) -> str:
        stamp = int(time.time()) if stamp is None else stamp
        mac = hmac.new(self._secret, str(stamp).encode(), hashlib.sha256).hexdigest()[:24]
        return f"{stamp:x}{mac}"

    def _nonce_ok(self, nonce: str) -> bool:
        if len(nonce) > 24 + 16:  # ours: a hex timestamp and 24 hex digits; a 4,000-digit stamp overflowed a float
            return False
        try:
            stamp = int(nonce[:-24], 16)
        except ValueError:
            return False
        fresh = 0 <= time.time() - stamp <= self.NONCE_TTL_S
        return fresh and hmac.compare_digest(self._nonce(stamp), nonce)

    def check(self, method: str, header: str | None) -> bool:
        """True when ``header`` (the Authorization value) carries valid credentials."""
        if self.mode is AuthMode.NONE and not self.refuse:
            return True
        if self.refuse or not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic" and self.mode in (AuthMode.BASIC, AuthMode.ANY):
            try:
                user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return hmac.compare_digest(f"{user}:{password}", f"{self.username}:{self.password}")
        if scheme.lower() == "digest" and self.mode in (AuthMode.DIGEST, AuthMode.ANY):
            return self._check_digest(method, parse_auth_params(value))
        return False

    def _check_digest(self, method: str, p: dict[str, str]) -> bool:
        needed = ("username", "realm", "nonce", "uri", "response")
        if any(k not in p for k in needed) or p["username"] != self.username or p["realm"] != self.realm:
            return False
        if not self._nonce_ok(p["nonce"]):
            return False
        ha1 = _md5(f"{self.username}:{self.realm}:{self.password}")
        ha2 = _md5(f"{method}:{p['uri']}")
        if p.get("qop"):
            expected = _md5(f"{ha1}:{p['nonce']}:{p.get('nc', '')}:{p.get('cnonce', '')}:{p['qop']}:{ha2}")
        else:
            expected = _md5(f"{ha1}:{p['nonce']}:{ha2}")
        return hmac.compare_digest(expected, p["response"].lower())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def build_sdp(host: str, title: str, codec: Codec, params: ParameterSets, fps: int,
              bitrate_kbps: int) -> str:
    """Session description with out-of-band parameter sets, one video track ``trackID=0``."""
    pt = payload_type(codec)
    session_id = secrets.randbelow(1 << 31)
    lines = ["v=0", f"o=- {session_id} 1 IN IP4 {host}", f"s={title}", "c=IN IP4 0.0.0.0", "t=0 0",
             "a=control:*", "a=range:npt=now-", f"m=video 0 RTP/AVP {pt}", f"b=AS:{bitrate_kbps}"]
    if codec is Codec.H264:
        profile = params.sps[1:4].hex().upper() if len(params.sps) >= 4 else "42E01F"
        lines += [f"a=rtpmap:{pt} H264/90000",
                  f"a=fmtp:{pt} packetization-mode=1;profile-level-id={profile};"
                  f"sprop-parameter-sets={_b64(params.sps)},{_b64(params.pps)}"]
    elif codec is Codec.H265:
        lines += [f"a=rtpmap:{pt} H265/90000",
                  f"a=fmtp:{pt} sprop-vps={_b64(params.vps)};sprop-sps={_b64(params.sps)};"
                  f"sprop-pps={_b64(params.pps)}"]
    else:
        lines += [f"a=rtpmap:{pt} JPEG/90000"]
    lines += [f"a=framerate:{fps}", "a=control:trackID=0"]
    return "\r\n".join(lines) + "\r\n"


@dataclass(frozen=True, slots=True)
class TransportSpec:
    """The transport a client asked for and we accepted."""

    tcp: bool
    channel: int = 0
    client_rtp_port: int = 0
    client_rtcp_port: int = 0


def choose_transport(header: str | None) -> TransportSpec:
    """Pick the first offered unicast transport we support (TCP interleaved or UDP).

    Raises RtspError(461) when none is acceptable (multicast, unknown profile, bad ports).
    """
    if not header:
        raise RtspError(461, "missing Transport header")
    for offer in header.split(","):
        fields = [f.strip() for f in offer.split(";")]
        profile = fields[0].upper()
        opts = dict(f.partition("=")[::2] for f in fields[1:])
        if "multicast" in fields or profile not in ("RTP/AVP", "RTP/AVP/UDP", "RTP/AVP/TCP"):
            continue
        try:
            if profile == "RTP/AVP/TCP":
                channel = int(opts.get("interleaved", "0-1").split("-")[0])
                if 0 <= channel <= 254:
                    return TransportSpec(tcp=True, channel=channel)
                continue
            ports = opts.get("client_port", "")
            first, _, second = ports.partition("-")
            rtp = int(first)
            rtcp = int(second) if second else rtp + 1
        except ValueError:
            continue
        if 0 < rtp < 65536 and 0 < rtcp < 65536:
            return TransportSpec(tcp=False, client_rtp_port=rtp, client_rtcp_port=rtcp)
    raise RtspError(461)


def format_response(status: int, cseq: str | None, headers: dict[str, str], body: bytes = b"") -> bytes:
    """Serialise a response; header names ending in ``#n`` repeat the header (WWW-Authenticate)."""
    lines = [f"RTSP/1.0 {status} {REASONS.get(status, 'Error')}"]
    if cseq is not None:
        lines.append(f"CSeq: {cseq}")
    lines.append("Server: vms-camsim")
    lines.append("Date: " + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))
    for name, value in headers.items():
        lines.append(f"{name.split('#')[0]}: {value}")
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
