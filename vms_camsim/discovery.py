"""WS-Discovery (2005/04, as ONVIF uses it) responder: answers Probe with one ProbeMatch per camera
whose types and scopes the probe asks for.

It listens on the multicast group 239.255.255.250:3702 (joined on one interface when asked) and
answers unicast probes on the same port. A Hello is multicast for every camera at start, so
clients that listen passively see the fleet appear.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
import uuid
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from vms_camsim.onvif.device_media import OnvifContext, scopes
from vms_camsim.onvif.soap import child, local, text

if TYPE_CHECKING:
    from vms_camsim.handle import SimulatorHandle

log = logging.getLogger(__name__)

GROUP = "239.255.255.250"
_WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
_NVT = "http://www.onvif.org/ver10/network/wsdl"
_TYPES = "dn:NetworkVideoTransmitter tds:Device"
_MAX_DATAGRAM = 65_507


def endpoint_uuid(serial: str) -> str:
    """A stable endpoint reference per camera (same serial, same urn, across restarts)."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'vms-camsim:' + serial)}"


def _envelope(action: str, relates_to: str | None, body: str) -> bytes:
    relates = f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>" if relates_to else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
            f' xmlns:a="{_WSA}" xmlns:d="{_WSD}" xmlns:dn="{_NVT}" '
            'xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><s:Header>'
            f"<a:MessageID>urn:uuid:{uuid.uuid4()}</a:MessageID>{relates}"
            "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
            f"<a:Action>{_WSD}/{action}</a:Action></s:Header><s:Body>{body}</s:Body></s:Envelope>").encode()


def _match_body(tag: str, ctx: OnvifContext) -> str:
    cam = ctx.camera.config
    return (f"<d:{tag}><a:EndpointReference><a:Address>{endpoint_uuid(cam.serial_number)}</a:Address>"
            f"</a:EndpointReference><d:Types>{_TYPES}</d:Types>"
            f"<d:Scopes>{escape(' '.join(scopes(ctx)))}</d:Scopes>"
            f"<d:XAddrs>{escape(ctx.xaddr('device'))}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:{tag}>")


_RFC_RULES = {f"{_WSD}/rfc2396", "http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01/rfc3986"}
_STRCMP_RULES = {f"{_WSD}/strcmp0", "http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01/strcmp0"}
_UUID_RULES = {f"{_WSD}/uuid", "http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01/uuid"}


def _rfc_parts(uri: str) -> tuple[str, str, list[str]] | None:
    """(scheme, authority, path segments) canonicalised for the RFC 2396/3986 rule, or None for a scope
    with a '.' or '..' segment (the rule does not match those)."""
    parts = urlsplit(uri)
    segments = [unquote(seg) for seg in parts.path.split("/")]
    if segments and segments[0] == "":
        segments = segments[1:]  # the leading '/' of an absolute path
    if segments and segments[-1] == "":
        segments = segments[:-1]  # 'type/' and 'type' are the same scope
    if "." in segments or ".." in segments:
        return None
    return parts.scheme.lower(), unquote(parts.netloc).lower(), segments


def scope_matches(probe_scope: str, device_scope: str, rule: str | None = None) -> bool:
    """WS-Discovery scope matching of one probe scope against one device scope.

    The default (no MatchBy) and the rfc2396/rfc3986 rules: scheme and authority equal ignoring case,
    the probe's path segments a segment-wise (case-sensitive) prefix of the device's; query and
    fragment are not compared. strcmp0 is exact string equality, uuid compares UUIDs. An unknown
    rule never matches (over UDP we stay silent rather than fault).
    """
    if rule is None or rule in _RFC_RULES:
        probe, device = _rfc_parts(probe_scope), _rfc_parts(device_scope)
        if probe is None or device is None or probe[:2] != device[:2]:
            return False
        return device[2][: len(probe[2])] == probe[2]
    if rule in _STRCMP_RULES:
        return probe_scope == device_scope
    if rule in _UUID_RULES:
        try:
            return uuid.UUID(probe_scope.removeprefix("urn:uuid:")) == uuid.UUID(
                device_scope.removeprefix("urn:uuid:"))
        except ValueError:
            return False
    return False


def probe_wants_us(probe: ET.Element, device_scopes: list[str]) -> bool:
    """True when the Probe's Types (if any) include something we are (NVT or Device) and every scope
    it lists matches one of ``device_scopes`` under its MatchBy rule (WS-Discovery, Probe matching)."""
    types = text(probe, "Types")
    if types:
        names = {t.rsplit(":", 1)[-1] for t in types.split()}
        if not names & {"NetworkVideoTransmitter", "Device"}:
            return False
    scopes_elem = child(probe, "Scopes")
    if scopes_elem is None:
        return True
    rule = (scopes_elem.get("MatchBy") or "").strip() or None
    wanted = (scopes_elem.text or "").split()
    return all(any(scope_matches(want, have, rule) for have in device_scopes) for want in wanted)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, responder: DiscoveryResponder) -> None:
        self.responder = responder

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if isinstance(addr[0], str) and isinstance(addr[1], int):
            self.responder.on_datagram(data, (addr[0], addr[1]))


class DiscoveryResponder:
    """Answers WS-Discovery probes for every camera of a running simulator."""

    def __init__(self, handle: SimulatorHandle) -> None:
        self.handle = handle
        self._transport: asyncio.DatagramTransport | None = None  # sends replies, Hello, Bye
        self._group_transport: asyncio.DatagramTransport | None = None

    def _contexts(self) -> list[OnvifContext]:
        base = f"http://{self.handle.config.public_host}"
        return [OnvifContext(cam, f"{base}:{cam.onvif_port}", {}) for cam in self.handle.cameras.values()]

    async def start(self) -> None:
        """Bind UDP 3702, join the group, send Hello. Raises OSError when that is impossible.

        With an interface, one socket is bound to the group address (multicast only) and one to
        the interface address (unicast probes, and every reply); without, one wildcard socket.
        """
        cfg = self.handle.config
        loop = asyncio.get_running_loop()
        group = _multicast_socket(cfg.discovery_interface, cfg.discovery_port)
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=group)
        if cfg.discovery_interface:
            self._group_transport = transport
            unicast = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
            try:
                unicast.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                unicast.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(cfg.discovery_interface))
                unicast.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
                unicast.bind((cfg.discovery_interface, cfg.discovery_port))
                unicast.setblocking(False)
            except OSError:
                unicast.close()
                transport.close()
                raise
            transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=unicast)
        self._transport = transport
        for ctx in self._contexts():
            self._send(_envelope("Hello", None, _match_body("Hello", ctx)), (GROUP, cfg.discovery_port))

    def on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        """Answer a Probe (anything else, including garbage, is ignored)."""
        if len(data) > _MAX_DATAGRAM:
            return
        try:
            root = ET.fromstring(data)  # noqa: S314 - expat refuses entity bombs; no external fetches
        except ET.ParseError:
            return
        probe = child(root, "Body", "Probe")
        message_id = text(root, "Header", "MessageID")
        if probe is None or local(root.tag) != "Envelope":
            return
        for ctx in self._contexts():
            if not ctx.camera.discoverable or not probe_wants_us(probe, scopes(ctx)):
                continue
            body = f"<d:ProbeMatches>{_match_body('ProbeMatch', ctx)}</d:ProbeMatches>"
            self._send(_envelope("ProbeMatches", message_id, body), addr)

    def _send(self, payload: bytes, addr: tuple[str, int]) -> None:
        if self._transport is not None:
            self._transport.sendto(payload, addr)

    async def close(self) -> None:
        """Send Bye for every camera and close the socket."""
        if self._transport is None:
            return
        for ctx in self._contexts():
            body = (f"<d:Bye><a:EndpointReference><a:Address>{endpoint_uuid(ctx.camera.config.serial_number)}"
                    "</a:Address></a:EndpointReference></d:Bye>")
            self._send(_envelope("Bye", None, body), (GROUP, self.handle.config.discovery_port))
        self._transport.close()
        self._transport = None
        if self._group_transport is not None:
            self._group_transport.close()
            self._group_transport = None


def _multicast_socket(interface: str | None, port: int) -> socket.socket:
    """A UDP socket on ``port`` that receives the WS-Discovery group (on ``interface`` if given)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Bound to the group address, the socket receives only the group's datagrams (Linux);
        # without an interface the wildcard address also takes unicast probes.
        sock.bind((GROUP if interface else "", port))
        iface = socket.inet_aton(interface or "0.0.0.0")  # noqa: S104 - INADDR_ANY: kernel picks the interface
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack("4s4s",
                        socket.inet_aton(GROUP), iface))
        if interface:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, iface)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def probe_blocking(timeout: float = 3.0, interface: str | None = None, port: int = 3702,
                   target: str = GROUP, scopes: list[str] | None = None) -> list[dict[str, str]]:
    """Send one Probe (for ``scopes`` if given, default matching rule) and collect ProbeMatches for
    ``timeout`` seconds (a small client for tests/CLI).

    Returns one dict per match: address (endpoint urn), xaddrs, scopes, types.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    if interface:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
    sock.bind((interface or "", 0))
    sock.settimeout(0.2)
    wanted = f"<d:Scopes>{escape(' '.join(scopes))}</d:Scopes>" if scopes else ""
    probe = _envelope("Probe", None, f"<d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types>{wanted}</d:Probe>")
    sock.sendto(probe, (target, port))
    found: dict[str, dict[str, str]] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data, _ = sock.recvfrom(_MAX_DATAGRAM)
        except TimeoutError:
            continue
        try:
            root = ET.fromstring(data)  # noqa: S314 - see on_datagram
        except ET.ParseError:
            continue
        for match in child(root, "Body", "ProbeMatches") or []:
            address = text(match, "EndpointReference", "Address") or ""
            found[address] = {"address": address, "xaddrs": text(match, "XAddrs") or "",
                              "scopes": text(match, "Scopes") or "", "types": text(match, "Types") or ""}
    sock.close()
    return list(found.values())
