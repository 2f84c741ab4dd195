"""WS-Discovery client (2005/04, the version ONVIF devices speak): multicast one Probe for
NetworkVideoTransmitters out of each IPv4 interface of the server and collect the ProbeMatches.

A probe leaves through every interface (not only the default route's) because a recorder usually sits on a
separate camera VLAN beside its office network; replies are unicast back to the probing socket.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree as ET

import ifaddr

logger = logging.getLogger(__name__)

GROUP = "239.255.255.250"
PORT = 3702
_WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
_MAX_DATAGRAM = 65_507


@dataclass
class ProbeMatch:
    """One device that answered: its endpoint reference, device-service addresses and ONVIF scopes."""

    endpoint: str
    xaddrs: list[str]
    scopes: list[str]
    interface: str
    source: str = ""
    name: str | None = None
    hardware: str | None = None
    location: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def interface_addresses() -> list[str]:
    """One IPv4 address per interface that has one (the first), loopback included: a simulator on the same
    host answers there, and on a real server probing lo costs one datagram."""
    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                found.append(ip.ip)
                break
    return found


def probe_message(message_id: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
            f' xmlns:a="{_WSA}" xmlns:d="{_WSD}" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header>'
            f"<a:MessageID>{message_id}</a:MessageID><a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>"
            f"<a:Action>{_WSD}/Probe</a:Action></s:Header><s:Body><d:Probe>"
            "<d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>").encode()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(elem: ET.Element, name: str) -> ET.Element | None:
    return next((e for e in elem.iter() if _local(e.tag) == name), None)


def _scope_value(scopes: list[str], kind: str) -> str | None:
    prefix = f"onvif://www.onvif.org/{kind}/"
    for scope in scopes:
        if scope.startswith(prefix):
            return unquote(scope[len(prefix):]) or None
    return None


def parse_matches(data: bytes, interface: str, source: str, message_id: str) -> list[ProbeMatch]:
    """ProbeMatches of one datagram that answer our probe; garbage and other messages give nothing."""
    if len(data) > _MAX_DATAGRAM:
        return []
    try:
        root = ET.fromstring(data)  # noqa: S314 - expat refuses entity expansion bombs; nothing is fetched
    except ET.ParseError:
        return []
    relates = _find(root, "RelatesTo")
    if relates is not None and (relates.text or "").strip() != message_id:
        return []
    out = []
    for match in (e for e in root.iter() if _local(e.tag) == "ProbeMatch"):
        address = _find(match, "Address")
        xaddrs = _find(match, "XAddrs")
        scopes = _find(match, "Scopes")
        scope_list = (scopes.text or "").split() if scopes is not None else []
        out.append(ProbeMatch(
            endpoint=(address.text or "").strip() if address is not None else "",
            xaddrs=(xaddrs.text or "").split() if xaddrs is not None else [], scopes=scope_list,
            interface=interface, source=source, name=_scope_value(scope_list, "name"),
            hardware=_scope_value(scope_list, "hardware"), location=_scope_value(scope_list, "location")))
    return out


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, interface: str, message_id: str, sink: Callable[[ProbeMatch], None]) -> None:
        self.interface, self.message_id, self.sink = interface, message_id, sink

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        for match in parse_matches(data, self.interface, str(addr[0]), self.message_id):
            self.sink(match)


def _probe_socket(interface: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)  # cameras are on the link, never routed
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        sock.bind((interface, 0))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def probe(interfaces: list[str], timeout_s: float, on_match: Callable[[ProbeMatch], None],
                port: int = PORT) -> list[str]:
    """Probe out of each interface address and call `on_match` for every answer until `timeout_s` has passed.
    The probe is sent twice (UDP may drop one). Returns the interfaces that could not send, which are logged
    and skipped rather than failing the whole search."""
    loop = asyncio.get_running_loop()
    message_id = f"urn:uuid:{uuid.uuid4()}"
    payload = probe_message(message_id)
    transports: list[asyncio.DatagramTransport] = []
    failed: list[str] = []
    for interface in interfaces:
        try:
            sock = _probe_socket(interface)
            transport, _ = await loop.create_datagram_endpoint(
                lambda i=interface: _Collector(i, message_id, on_match), sock=sock)  # type: ignore[misc]
            transport.sendto(payload, (GROUP, port))
            transports.append(transport)
        except OSError as exc:
            logger.info("WS-Discovery probe on %s failed: %s", interface, exc)
            failed.append(interface)
    try:
        await asyncio.sleep(min(0.5, timeout_s / 3))
        for transport in transports:
            transport.sendto(payload, (GROUP, port))
        await asyncio.sleep(max(0.0, timeout_s - min(0.5, timeout_s / 3)))
    finally:
        for transport in transports:
            transport.close()
    return failed


def device_host(xaddr: str) -> tuple[str, int] | None:
    parts = urlsplit(xaddr)
    try:
        return (parts.hostname, parts.port or 80) if parts.hostname else None
    except ValueError:
        return None
