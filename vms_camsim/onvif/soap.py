"""SOAP 1.2 envelopes, faults and WS-Security UsernameToken checking for the ONVIF services.

Requests are parsed with the standard library's expat-based ElementTree: expat >= 2.4.1 refuses
entity-expansion bombs and never fetches external entities, which is what defusedxml guards.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import time
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from vms_camsim.errors import SimulatorError

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tr2": "http://www.onvif.org/ver20/media/wsdl",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "timg": "http://www.onvif.org/ver20/imaging/wsdl",
    "tev": "http://www.onvif.org/ver10/events/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "wsa": "http://www.w3.org/2005/08/addressing",
    "tns1": "http://www.onvif.org/ver10/topics",
    "ter": "http://www.onvif.org/ver10/error",
}
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
MAX_CLOCK_SKEW = dt.timedelta(minutes=10)


class SoapFault(SimulatorError):
    """An ONVIF fault: SOAP code (Sender/Receiver), ONVIF subcodes and a reason."""

    def __init__(self, code: str, subcodes: tuple[str, ...], reason: str, http_status: int = 400) -> None:
        super().__init__(reason)
        self.code, self.subcodes, self.reason, self.http_status = code, subcodes, reason, http_status


def not_authorized(http_status: int = 400) -> SoapFault:
    """The fault ONVIF prescribes for missing or wrong credentials: HTTP 400 (a SOAP Sender fault) when
    a WS-Security token was refused, 401 (sent with an HTTP Digest challenge) when the request carried
    no token, so the client is taken to use HTTP authentication."""
    return SoapFault("Sender", ("ter:NotAuthorized",), "Sender not authorized", http_status)


def invalid_arg(subcode: str, reason: str) -> SoapFault:
    """An ``env:Sender / ter:InvalidArgVal / ter:<subcode>`` fault."""
    return SoapFault("Sender", ("ter:InvalidArgVal", f"ter:{subcode}"), reason)


def envelope(body: str) -> str:
    """Wrap response body XML in a SOAP 1.2 envelope declaring every prefix we use."""
    decl = " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items())
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<s:Envelope {decl}><s:Body>{body}</s:Body></s:Envelope>'


def fault_envelope(fault: SoapFault) -> str:
    """Serialise a SoapFault (nested subcodes, as ONVIF uses them)."""
    sub = ""
    for code in reversed(fault.subcodes):
        sub = f"<s:Subcode><s:Value>{code}</s:Value>{sub}</s:Subcode>"
    return envelope(f"<s:Fault><s:Code><s:Value>s:{fault.code}</s:Value>{sub}</s:Code>"
                    f'<s:Reason><s:Text xml:lang="en">{escape(fault.reason)}</s:Text></s:Reason></s:Fault>')


def local(tag: str) -> str:
    """Element name without its namespace."""
    return tag.rsplit("}", 1)[-1]


def child(elem: ET.Element | None, *names: str) -> ET.Element | None:
    """Follow a path of local names (namespace-agnostic, first match at each level)."""
    for name in names:
        if elem is None:
            return None
        elem = next((c for c in elem if local(c.tag) == name), None)
    return elem


def text(elem: ET.Element | None, *names: str) -> str | None:
    """Stripped text at a local-name path, or None."""
    found = child(elem, *names)
    return found.text.strip() if found is not None and found.text else None


def parse_request(body: bytes) -> tuple[ET.Element | None, ET.Element]:
    """Return (Header, first Body child). Raises a WellFormed/ActionNotSupported fault otherwise."""
    try:
        root = ET.fromstring(body)  # noqa: S314 - see module docstring
    except ET.ParseError as exc:
        raise SoapFault("Sender", ("ter:WellFormed",), f"malformed XML: {exc}") from exc
    if local(root.tag) != "Envelope":
        raise SoapFault("Sender", ("ter:WellFormed",), "not a SOAP envelope")
    header, body_elem = child(root, "Header"), child(root, "Body")
    if body_elem is None or len(body_elem) == 0:
        raise SoapFault("Sender", ("ter:WellFormed",), "empty SOAP body")
    return header, body_elem[0]


def _parse_created(value: str) -> dt.datetime | None:
    try:
        created = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return created if created.tzinfo else created.replace(tzinfo=dt.UTC)


class SeenNonces:
    """Nonces of accepted digests, kept for twice the allowed clock skew: a captured request cannot be
    replayed (WS-Security UsernameToken profile: a receiver should reject a nonce it has already seen)."""

    def __init__(self) -> None:
        self._until: dict[bytes, float] = {}

    def first_use(self, nonce: bytes) -> bool:
        now = time.monotonic()
        if len(self._until) > 4096:
            self._until = {n: t for n, t in self._until.items() if t > now}
        if self._until.get(nonce, 0.0) > now:
            return False
        self._until[nonce] = now + 2 * MAX_CLOCK_SKEW.total_seconds()
        return True


def check_username_token(header: ET.Element | None, username: str, password: str,
                         seen: SeenNonces | None = None, clock_offset_s: float = 0.0) -> bool:
    """Validate a WS-Security UsernameToken (PasswordDigest or PasswordText); with `seen`, a digest whose
    nonce was already accepted is refused. Created is checked against the device's clock (the host's
    plus `clock_offset_s`), which is what clients correct their timestamps to."""
    token = child(header, "Security", "UsernameToken")
    if token is None or text(token, "Username") != username:
        return False
    pw_elem = child(token, "Password")
    supplied = (pw_elem.text or "").strip() if pw_elem is not None else ""
    if pw_elem is None or not pw_elem.get("Type", "").endswith("#PasswordDigest"):
        return hmac.compare_digest(supplied, password)
    nonce_b64, created = text(token, "Nonce"), text(token, "Created")
    if not nonce_b64 or not created:
        return False
    when = _parse_created(created)
    device_now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=clock_offset_s)
    if when is None or abs(device_now - when) > MAX_CLOCK_SKEW:
        return False
    try:
        nonce = base64.b64decode(nonce_b64, validate=True)
    except ValueError:
        return False
    digest = hashlib.sha1(nonce + created.encode() + password.encode(), usedforsecurity=False).digest()
    if not hmac.compare_digest(base64.b64encode(digest).decode(), supplied):
        return False
    return seen is None or seen.first_use(nonce)


def utc_now_iso() -> str:
    """Current UTC time as xs:dateTime."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


_DURATION = re.compile(r"P(?:(\d{1,9}(?:\.\d{1,9})?)D)?(?:T(?:(\d{1,9}(?:\.\d{1,9})?)H)?"
                       r"(?:(\d{1,9}(?:\.\d{1,9})?)M)?(?:(\d{1,9}(?:\.\d{1,9})?)S)?)?", re.ASCII)


def parse_duration(value: str | None, default: float) -> float:
    """Seconds of an xs:duration like PT60S / PT1M30S / P1D (or an absolute time); default when unparsable.

    A strict pattern with ASCII digits: the old digit-by-digit reading let 'PT1.2.3S' or 'PT²S' reach float()
    and fail with an exception (a 500 from PullMessages) instead of the default.
    """
    if not value:
        return default
    value = value.strip()
    if value.startswith("P"):
        match = _DURATION.fullmatch(value)
        if match is None or value in ("P", "PT") or value.endswith("T"):
            return default
        days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
        return days * 86400 + hours * 3600 + minutes * 60 + seconds
    when = _parse_created(value)
    if when is None:
        return default
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
