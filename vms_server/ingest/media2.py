"""A small ONVIF Media2 (ver20) client: the profiles and stream URIs of a camera that offers Media2.

Media (ver10) cannot describe H.265 (its encoding enumeration stops at H.264), so a Profile T camera
lists its H.265 streams only through Media2. onvif-zeep-async ships no Media2 WSDL, so the two
operations the probe needs (GetProfiles, GetStreamUri) are sent as SOAP here, with the same
WS-Security UsernameToken digest the library uses. Answers are parsed with the standard library's
expat-based ElementTree (it refuses entity-expansion bombs and fetches no external entities) and
capped in size.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import os
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

import aiohttp

logger = logging.getLogger(__name__)

MEDIA2_NS = "http://www.onvif.org/ver20/media/wsdl"
_TT = "http://www.onvif.org/ver10/schema"
_WSS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-"
_MAX_ANSWER = 1024 * 1024


class Media2Error(Exception):
    """The camera's Media2 service failed or answered something unreadable; ``subcodes`` of a fault."""

    def __init__(self, message: str, subcodes: tuple[str, ...] = (), status: int | None = None) -> None:
        super().__init__(message)
        self.subcodes, self.status_code = subcodes, status


async def media2_address(device: Any) -> str | None:
    """The Media2 XAddr from GetServices (a device service of onvif-zeep-async), None when not offered."""
    for service in await device.GetServices({"IncludeCapability": False}) or []:
        if str(getattr(service, "Namespace", "")) == MEDIA2_NS:
            return str(service.XAddr)
    return None


def _security(username: str, password: str) -> str:
    nonce = os.urandom(16)
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode(),
                                           usedforsecurity=False).digest()).decode()
    return (f'<Security xmlns="{_WSS}wssecurity-secext-1.0.xsd"><UsernameToken>'
            f"<Username>{escape(username)}</Username>"
            f'<Password Type="{_WSS}username-token-profile-1.0#PasswordDigest">{digest}</Password>'
            f'<Nonce EncodingType="{_WSS}soap-message-security-1.0#Base64Binary">{base64.b64encode(nonce).decode()}'
            f'</Nonce><Created xmlns="{_WSS}wssecurity-utility-1.0.xsd">{created}</Created>'
            "</UsernameToken></Security>")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class Media2Client:
    """Calls on one camera's Media2 service."""

    def __init__(self, xaddr: str, username: str | None, password: str | None, http: aiohttp.ClientSession) -> None:
        self.xaddr, self._username, self._password, self._http = xaddr, username, password, http

    async def call(self, body: str) -> ET.Element:
        """Send one operation; the first element of the answer's Body. Raises Media2Error."""
        header = f"<s:Header>{_security(self._username, self._password or '')}</s:Header>" if self._username else ""
        envelope = (f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">{header}'
                    f"<s:Body>{body}</s:Body></s:Envelope>")
        async with self._http.post(self.xaddr, data=envelope.encode(),
                                   headers={"Content-Type": "application/soap+xml; charset=utf-8"}) as response:
            data = await response.content.read(_MAX_ANSWER + 1)
            status = response.status
        if len(data) > _MAX_ANSWER:
            raise Media2Error("the camera's Media2 answer is too large", status=status)
        try:
            root = ET.fromstring(data)  # noqa: S314 - see the module docstring
        except ET.ParseError as exc:
            raise Media2Error(f"unreadable Media2 answer (HTTP {status}): {exc}", status=status) from None
        answer = next((c for c in root.iter() if _local(c.tag) == "Body"), None)
        first = answer[0] if answer is not None and len(answer) else None
        if first is None:
            raise Media2Error(f"empty Media2 answer (HTTP {status})", status=status)
        if _local(first.tag) == "Fault":
            values = (v.text or "" for v in first.iter() if _local(v.tag) == "Value")
            subcodes = tuple(value.strip().rsplit(":", 1)[-1] for value in values)  # drop the prefix
            reason = next((t.text or "" for t in first.iter() if _local(t.tag) == "Text"), "")
            raise Media2Error(f"Media2 fault: {reason}", subcodes, status)
        return first

    async def profiles(self) -> list[dict[str, Any]]:
        """Every profile with its encoder settings and RTSP URI (raw, credentials not added)."""
        answer = await self.call(f'<GetProfiles xmlns="{MEDIA2_NS}"><Type>All</Type></GetProfiles>')
        out = []
        for profile in (p for p in answer if _local(p.tag) == "Profiles"):
            token = profile.get("token") or ""
            encoder = next((e for e in profile.iter(f"{{{MEDIA2_NS}}}VideoEncoder")), None)
            uri = await self.call(f'<GetStreamUri xmlns="{MEDIA2_NS}"><Protocol>RtspUnicast</Protocol>'
                                  f"<ProfileToken>{escape(token)}</ProfileToken></GetStreamUri>")
            out.append({
                "token": token, "name": profile.findtext(f"{{{MEDIA2_NS}}}Name") or token,
                "uri": uri.findtext(f"{{{MEDIA2_NS}}}Uri") or "",
                "encoding": None if encoder is None else encoder.findtext(f"{{{_TT}}}Encoding"),
                "width": _int(encoder, "Resolution", "Width"), "height": _int(encoder, "Resolution", "Height"),
                "fps": _float(encoder, "RateControl", "FrameRateLimit"),
                "ptz": profile.find(f".//{{{MEDIA2_NS}}}PTZ") is not None,
            })
        return out


def _text(elem: ET.Element | None, *path: str) -> str | None:
    if elem is None:
        return None
    return elem.findtext("/".join(f"{{{_TT}}}{p}" for p in path))


def _int(elem: ET.Element | None, *path: str) -> int | None:
    value = _text(elem, *path)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(elem: ET.Element | None, *path: str) -> float | None:
    value = _text(elem, *path)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
