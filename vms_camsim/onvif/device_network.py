"""Network interface and protocol settings (simulated: stored and read back, never applied to the
host) and the soft/hard factory default, which puts every ONVIF-changeable setting back to what the
simulator's configuration gives the camera.

The simulator serves on the address and ports of its command line whatever a client sets, so a
client that moves the camera to another address keeps reaching it at the old one; that is what a
real camera does until it reboots, which the simulator never really does.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from vms_camsim.onvif.encoder_settings import apply_stream
from vms_camsim.onvif.imaging import ImagingState
from vms_camsim.onvif.soap import child, invalid_arg, local, text

if TYPE_CHECKING:
    from vms_camsim.onvif.device_media import Handler, OnvifContext

INTERFACE = "eth0"
PROTOCOLS = ("HTTP", "HTTPS", "RTSP")


@dataclass
class Ipv4Settings:
    """What SetNetworkInterfaces gave the interface."""

    enabled: bool = True
    dhcp: bool = False
    manual: list[tuple[str, int]] = field(default_factory=list)  # (address, prefix length)


@dataclass
class NetworkState:
    """Interface and protocol settings a client set; None and empty mean 'as served'."""

    enabled: bool = True
    mtu: int = 1500
    ipv4: Ipv4Settings | None = None
    protocols: dict[str, tuple[bool, list[int]]] = field(default_factory=dict)


def _bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    if value not in ("true", "false", "1", "0"):
        raise invalid_arg("InvalidArgs", f"not a boolean: {value!r}")
    return value in ("true", "1")


def _int(value: str | None, low: int, high: int, subcode: str, what: str) -> int:
    try:
        number = int(value or "")
    except ValueError:
        raise invalid_arg(subcode, f"{what} is not a number: {value!r}") from None
    if not low <= number <= high:
        raise invalid_arg(subcode, f"{what} {number} is outside {low}..{high}")
    return number


def _served(ctx: OnvifContext) -> tuple[str, int]:
    """The address the simulator really serves on and the HTTP port."""
    parts = urlsplit(ctx.base_url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def get_network_interfaces(ctx: OnvifContext, op: Element) -> str:
    """One wired interface: the address the simulator serves on, or what a client set."""
    net = ctx.network
    host, _ = _served(ctx)
    ipv4 = net.ipv4 or Ipv4Settings(manual=[(host, 24)])
    digest = hashlib.sha256(ctx.camera.name.encode()).digest()  # a stable MAC across restarts
    mac = "02:00:" + ":".join(f"{b:02x}" for b in digest[:4])
    manual = "".join(f"<tt:Manual><tt:Address>{escape(a)}</tt:Address><tt:PrefixLength>{p}</tt:PrefixLength>"
                     "</tt:Manual>" for a, p in ipv4.manual)
    return (f'<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="{INTERFACE}">'
            f"<tt:Enabled>{str(net.enabled).lower()}</tt:Enabled><tt:Info><tt:Name>{INTERFACE}</tt:Name>"
            f"<tt:HwAddress>{mac}</tt:HwAddress><tt:MTU>{net.mtu}</tt:MTU></tt:Info>"
            f"<tt:IPv4><tt:Enabled>{str(ipv4.enabled).lower()}</tt:Enabled><tt:Config>{manual}"
            f"<tt:DHCP>{str(ipv4.dhcp).lower()}</tt:DHCP></tt:Config></tt:IPv4>"
            "</tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>")


def _read_ipv4(elem: Element, current: Ipv4Settings) -> Ipv4Settings:
    manual = []
    for item in (c for c in elem if local(c.tag) == "Manual"):
        address = text(item, "Address") or ""
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            raise invalid_arg("InvalidIPv4Address", f"not an IPv4 address: {address!r}") from None
        if parsed.version != 4 or parsed.is_multicast or parsed.is_unspecified:
            raise invalid_arg("InvalidIPv4Address", f"not a unicast IPv4 address: {address!r}")
        manual.append((address, _int(text(item, "PrefixLength"), 1, 32, "InvalidIPv4Address", "PrefixLength")))
    dhcp = _bool(text(elem, "DHCP"), current.dhcp)
    return Ipv4Settings(_bool(text(elem, "Enabled"), current.enabled), dhcp, manual or current.manual)


def set_network_interfaces(ctx: OnvifContext, op: Element) -> str:
    """Store the interface's settings (all checked before any is kept). Raises ter:InvalidNetworkInterface,
    ter:InvalidMtuValue, ter:InvalidIPv4Address; IPv6 is ter:IPv6NotSupported."""
    token = text(op, "InterfaceToken")
    if token != INTERFACE:
        raise invalid_arg("InvalidNetworkInterface", f"no network interface {token!r}")
    new = child(op, "NetworkInterface")
    if new is None:
        raise invalid_arg("InvalidArgs", "NetworkInterface is required")
    ipv6 = child(new, "IPv6")
    if ipv6 is not None and _bool(text(ipv6, "Enabled"), False):
        raise invalid_arg("IPv6NotSupported", "the simulated interface has no IPv6")
    net = ctx.network
    host, _ = _served(ctx)
    enabled = _bool(text(new, "Enabled"), net.enabled)
    mtu = net.mtu if text(new, "MTU") is None else _int(text(new, "MTU"), 576, 9000, "InvalidMtuValue", "MTU")
    ipv4_elem = child(new, "IPv4")
    current = net.ipv4 or Ipv4Settings(manual=[(host, 24)])
    ipv4 = current if ipv4_elem is None else _read_ipv4(ipv4_elem, current)
    net.enabled, net.mtu, net.ipv4 = enabled, mtu, ipv4
    return "<tds:SetNetworkInterfacesResponse><tds:RebootNeeded>false</tds:RebootNeeded>" \
           "</tds:SetNetworkInterfacesResponse>"


def _served_protocols(ctx: OnvifContext) -> dict[str, tuple[bool, list[int]]]:
    _, http_port = _served(ctx)
    rtsp = sorted({urlsplit(url).port or 554 for url in ctx.rtsp_urls.values()} or {554})
    return {"HTTP": (True, [http_port]), "RTSP": (True, rtsp)}


def get_network_protocols(ctx: OnvifContext, op: Element) -> str:
    """HTTP on the camera's ONVIF port and RTSP on the simulator's RTSP port, or what a client set."""
    protocols = {**_served_protocols(ctx), **ctx.network.protocols}
    items = "".join(f"<tds:NetworkProtocols><tt:Name>{name}</tt:Name><tt:Enabled>{str(on).lower()}</tt:Enabled>"
                    + "".join(f"<tt:Port>{p}</tt:Port>" for p in ports) + "</tds:NetworkProtocols>"
                    for name, (on, ports) in protocols.items())
    return f"<tds:GetNetworkProtocolsResponse>{items}</tds:GetNetworkProtocolsResponse>"


def set_network_protocols(ctx: OnvifContext, op: Element) -> str:
    """Store protocols' ports and switches (all checked first). HTTPS cannot be switched on (no TLS):
    ter:ServiceNotSupported, as is an unknown protocol; a port outside 1..65535 or used by two protocols
    is ter:PortAlreadyInUse / ter:InvalidArgs."""
    changes: dict[str, tuple[bool, list[int]]] = {}
    for item in (c for c in op if local(c.tag) == "NetworkProtocols"):
        name = text(item, "Name") or ""
        if name not in PROTOCOLS:
            raise invalid_arg("ServiceNotSupported", f"no protocol {name!r}")
        enabled = _bool(text(item, "Enabled"), True)
        if name == "HTTPS" and enabled:
            raise invalid_arg("ServiceNotSupported", "the simulator has no HTTPS")
        ports = [_int(c.text, 1, 65535, "InvalidArgs", "Port") for c in item if local(c.tag) == "Port"]
        changes[name] = (enabled, ports)
    if not changes:
        raise invalid_arg("InvalidArgs", "no NetworkProtocols given")
    merged = {**_served_protocols(ctx), **ctx.network.protocols, **changes}
    used = [p for on, ports in merged.values() if on for p in ports]
    if len(used) != len(set(used)):
        raise invalid_arg("PortAlreadyInUse", "two protocols on one port")
    ctx.network.protocols.update(changes)
    return "<tds:SetNetworkProtocolsResponse/>"


async def set_system_factory_default(ctx: OnvifContext, op: Element) -> str:
    """Every ONVIF-changeable setting back to the configured camera: users, host name, scopes, discovery,
    clock, NTP/DNS/gateway, imaging, PTZ presets, home and auxiliary devices, created media profiles, encoder
    settings (re-encoded before the answer). Soft keeps the network interface and protocols (as the ONVIF core
    specification has it), Hard resets them too."""
    kind = text(op, "FactoryDefault")
    if kind not in ("Soft", "Hard"):
        raise invalid_arg("InvalidArgs", f"FactoryDefault {kind!r} is neither Soft nor Hard")
    cam = ctx.camera
    cam.hostname, cam.discoverable, cam.clock_offset_s = None, True, 0.0
    for settings in (cam.configurable_scopes, cam.ntp_servers, cam.dns_servers, cam.search_domains, cam.gateways):
        settings.clear()
    ctx.users.reset()
    ctx.imaging = ImagingState()
    ctx.ptz_home = None
    ctx.profiles.clear()
    if cam.ptz is not None:
        cam.ptz.presets.clear()
    ctx.aux.clear()
    configured = {"main": cam.config.main, "sub": cam.config.sub}
    for token in list(cam.feeds):
        stream = configured.get(token)
        if stream is not None:
            await apply_stream(cam, token, stream)
    if kind == "Hard":
        ctx.network = NetworkState()
    return "<tds:SetSystemFactoryDefaultResponse/>"


def get_relay_outputs(ctx: OnvifContext, op: Element) -> str:
    """The simulated cameras have no relay outputs (an empty list, not an unsupported operation)."""
    return "<tds:GetRelayOutputsResponse/>"


DEVICE_NETWORK_OPS: dict[str, Handler] = {
    "GetNetworkInterfaces": get_network_interfaces, "SetNetworkInterfaces": set_network_interfaces,
    "GetNetworkProtocols": get_network_protocols, "SetNetworkProtocols": set_network_protocols,
    "SetSystemFactoryDefault": set_system_factory_default, "GetRelayOutputs": get_relay_outputs,
}
