"""Device settings an ONVIF client may change: host name, configurable scopes, discovery mode, clock,
NTP/DNS/gateway (kept and reported; the host's network is not touched), and a reboot that only
answers (Profile S asks for all of them).

Changes live in the camera's runtime (CameraRuntime), so WS-Discovery announces the new scopes and
a NonDiscoverable camera stops answering probes; a simulator restart forgets them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from vms_camsim.onvif.device_media import fixed_scopes
from vms_camsim.onvif.soap import SoapFault, child, invalid_arg, local, text

if TYPE_CHECKING:
    from vms_camsim.onvif.device_media import Handler, OnvifContext

MAX_CONFIGURABLE_SCOPES = 32
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def _scope_items(op: Element, name: str) -> list[str]:
    items = [(c.text or "").strip() for c in op if local(c.tag) == name]
    if any(not item or len(item) > 1024 or any(ch.isspace() for ch in item) for item in items):
        raise invalid_arg("InvalidArgs", "a scope is a non-empty URI without spaces")
    return items


def set_hostname(ctx: OnvifContext, op: Element) -> str:
    """Rename the device (RFC 1123 host name). Raises ter:InvalidHostname."""
    name = text(op, "Name") or ""
    if not _HOSTNAME.match(name):
        raise invalid_arg("InvalidHostname", f"not a valid host name: {name!r}")
    ctx.camera.hostname = name
    return "<tds:SetHostnameResponse/>"


def set_scopes(ctx: OnvifContext, op: Element) -> str:
    """Replace the configurable scopes (fixed ones stay). Raises ter:ScopeOverwrite, ter:TooManyScopes."""
    wanted = _scope_items(op, "Scopes")
    if set(wanted) & set(fixed_scopes(ctx)):
        raise SoapFault("Sender", ("ter:OperationProhibited", "ter:ScopeOverwrite"), "a fixed scope cannot be set")
    if len(wanted) > MAX_CONFIGURABLE_SCOPES:
        raise SoapFault("Receiver", ("ter:Action", "ter:TooManyScopes"), "too many scopes", 500)
    ctx.camera.configurable_scopes = list(dict.fromkeys(wanted))
    return "<tds:SetScopesResponse/>"


def add_scopes(ctx: OnvifContext, op: Element) -> str:
    """Add configurable scopes. Raises ter:TooManyScopes."""
    current = ctx.camera.configurable_scopes
    merged = list(dict.fromkeys(current + [s for s in _scope_items(op, "ScopeItem") if s not in fixed_scopes(ctx)]))
    if len(merged) > MAX_CONFIGURABLE_SCOPES:
        raise SoapFault("Receiver", ("ter:Action", "ter:TooManyScopes"), "too many scopes", 500)
    ctx.camera.configurable_scopes = merged
    return "<tds:AddScopesResponse/>"


def remove_scopes(ctx: OnvifContext, op: Element) -> str:
    """Remove configurable scopes; answers the removed ones. Raises ter:FixedScope, ter:NoScope."""
    items = _scope_items(op, "ScopeItem")
    fixed = set(fixed_scopes(ctx))
    for item in items:
        if item in fixed:
            raise SoapFault("Sender", ("ter:OperationProhibited", "ter:FixedScope"), f"{item} is fixed")
        if item not in ctx.camera.configurable_scopes:
            raise invalid_arg("NoScope", f"no scope {item}")
    ctx.camera.configurable_scopes = [s for s in ctx.camera.configurable_scopes if s not in items]
    removed = "".join(f"<tds:ScopeItem>{escape(s)}</tds:ScopeItem>" for s in items)
    return f"<tds:RemoveScopesResponse>{removed}</tds:RemoveScopesResponse>"


def set_discovery_mode(ctx: OnvifContext, op: Element) -> str:
    """Discoverable or NonDiscoverable (the latter: no answers to WS-Discovery probes)."""
    mode = text(op, "DiscoveryMode")
    if mode not in ("Discoverable", "NonDiscoverable"):
        raise invalid_arg("InvalidArgs", f"unknown discovery mode {mode!r}")
    ctx.camera.discoverable = mode == "Discoverable"
    return "<tds:SetDiscoveryModeResponse/>"


def system_reboot(ctx: OnvifContext, op: Element) -> str:
    """Answer as a camera does; the simulated camera keeps running (its streams are shared)."""
    return "<tds:SystemRebootResponse><tds:Message>Rebooting in 1 second</tds:Message></tds:SystemRebootResponse>"


def _no_dhcp(op: Element) -> None:
    if (text(op, "FromDHCP") or "false").lower() in ("true", "1"):
        raise invalid_arg("InvalidArgs", "the simulator has no DHCP client")


def _ip(value: str | None) -> str:
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        raise invalid_arg("InvalidIPv4Address", f"not an IP address: {value!r}") from None


def _manual(op: Element, name: str) -> list[str]:
    """Addresses (or DNS names) of the tt:NetworkHost / tt:IPAddress entries called ``name``."""
    out = []
    for entry in (c for c in op if local(c.tag) == name):
        if text(entry, "Type") == "DNS":
            host = text(entry, "DNSname") or ""
            if not _HOSTNAME.match(host):
                raise invalid_arg("InvalidDnsName", f"not a host name: {host!r}")
            out.append(host)
        else:
            out.append(_ip(text(entry, "IPv4Address") or text(entry, "IPv6Address")))
    return out


def set_ntp(ctx: OnvifContext, op: Element) -> str:
    """Keep the NTP servers to report them (the simulator's clock stays the host's)."""
    _no_dhcp(op)
    ctx.camera.ntp_servers = _manual(op, "NTPManual")
    return "<tds:SetNTPResponse/>"


def set_dns(ctx: OnvifContext, op: Element) -> str:
    """Keep the DNS servers and search domains to report them."""
    _no_dhcp(op)
    domains = [(c.text or "").strip() for c in op if local(c.tag) == "SearchDomain"]
    if any(not _HOSTNAME.match(d) for d in domains):
        raise invalid_arg("InvalidArgs", "a search domain is a host name")
    ctx.camera.dns_servers, ctx.camera.search_domains = _manual(op, "DNSManual"), domains
    return "<tds:SetDNSResponse/>"


def set_network_default_gateway(ctx: OnvifContext, op: Element) -> str:
    """Keep the gateways to report them."""
    ctx.camera.gateways = [_ip(c.text) for c in op if local(c.tag) in ("IPv4Address", "IPv6Address")]
    return "<tds:SetNetworkDefaultGatewayResponse/>"


def set_system_date_and_time(ctx: OnvifContext, op: Element) -> str:
    """NTP: the host's clock again. Manual: the camera's clock runs from the given UTC time (reported by
    GetSystemDateAndTime and used to check WS-Security timestamps). The simulator runs in UTC, so a
    TimeZone other than UTC/GMT is ter:InvalidTimeZone."""
    kind = text(op, "DateTimeType")
    tz = text(op, "TimeZone", "TZ")
    if tz is not None and tz.upper() not in ("UTC", "UTC0", "GMT", "GMT0"):
        raise invalid_arg("InvalidTimeZone", f"the simulator runs in UTC, not {tz!r}")
    if kind == "NTP":
        ctx.camera.clock_offset_s = 0.0
    elif kind == "Manual":
        utc = child(op, "UTCDateTime")
        try:
            parts = [int(text(utc, *path) or "") for path in (("Date", "Year"), ("Date", "Month"), ("Date", "Day"),
                                                              ("Time", "Hour"), ("Time", "Minute"), ("Time", "Second"))]
            year, month, day, hour, minute, second = parts
            when = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
        except ValueError:
            raise invalid_arg("InvalidDateTime", "UTCDateTime is missing or not a valid date and time") from None
        ctx.camera.clock_offset_s = (when - dt.datetime.now(dt.UTC)).total_seconds()
    else:
        raise invalid_arg("InvalidArgs", f"DateTimeType {kind!r} is neither NTP nor Manual")
    return "<tds:SetSystemDateAndTimeResponse/>"


DEVICE_SETTER_OPS: dict[str, Handler] = {
    "SetHostname": set_hostname, "SetScopes": set_scopes, "AddScopes": add_scopes, "RemoveScopes": remove_scopes,
    "SetDiscoveryMode": set_discovery_mode, "SystemReboot": system_reboot, "SetNTP": set_ntp, "SetDNS": set_dns,
    "SetNetworkDefaultGateway": set_network_default_gateway, "SetSystemDateAndTime": set_system_date_and_time,
}
