"""Device management read-outs a Profile S client asks for while it sets a camera up:
DNS/NTP/gateway, discovery mode, service capabilities.

Network protocols and interfaces are in device_network, users in users.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from vms_camsim.onvif.device_media import Handler, OnvifContext


def get_service_capabilities(ctx: OnvifContext, op: Element) -> str:
    """Network, security and system capabilities: WS-UsernameToken and HTTP Digest, discovery Bye."""
    return ("<tds:GetServiceCapabilitiesResponse><tds:Capabilities>"
            '<tds:Network IPFilter="false" ZeroConfiguration="false" IPVersion6="false" DynDNS="false" '
            'Dot11Configuration="false" HostnameFromDHCP="false" NTP="0"/>'
            '<tds:Security TLS1.0="false" TLS1.1="false" TLS1.2="false" OnboardKeyGeneration="false" '
            'AccessPolicyConfig="false" DefaultAccessPolicy="false" Dot1X="false" RemoteUserHandling="false" '
            'X.509Token="false" SAMLToken="false" KerberosToken="false" UsernameToken="true" HttpDigest="true" '
            'RELToken="false"/>'
            '<tds:System DiscoveryResolve="false" DiscoveryBye="true" RemoteDiscovery="false" SystemBackup="false" '
            'SystemLogging="false" FirmwareUpgrade="false" HttpFirmwareUpgrade="false" HttpSystemBackup="false" '
            'HttpSystemLogging="false" HttpSupportInformation="false"/>'
            "</tds:Capabilities></tds:GetServiceCapabilitiesResponse>")


def _address_xml(tag: str, address: str) -> str:
    kind = "IPv6" if ":" in address else "IPv4"
    return f"<tt:{tag}><tt:Type>{kind}</tt:Type><tt:{kind}Address>{escape(address)}</tt:{kind}Address></tt:{tag}>"


def get_dns(ctx: OnvifContext, op: Element) -> str:
    """The DNS servers and search domains a client set (none at first; the simulator resolves nothing)."""
    cam = ctx.camera
    domains = "".join(f"<tt:SearchDomain>{escape(d)}</tt:SearchDomain>" for d in cam.search_domains)
    servers = "".join(_address_xml("DNSManual", a) for a in cam.dns_servers)
    return ("<tds:GetDNSResponse><tds:DNSInformation><tt:FromDHCP>false</tt:FromDHCP>"
            f"{domains}{servers}</tds:DNSInformation></tds:GetDNSResponse>")


def get_ntp(ctx: OnvifContext, op: Element) -> str:
    """The NTP servers a client set (the simulator keeps its host's clock)."""
    servers = "".join(_address_xml("NTPManual", a) if _is_ip(a) else
                      f"<tt:NTPManual><tt:Type>DNS</tt:Type><tt:DNSname>{escape(a)}</tt:DNSname></tt:NTPManual>"
                      for a in ctx.camera.ntp_servers)
    return ("<tds:GetNTPResponse><tds:NTPInformation><tt:FromDHCP>false</tt:FromDHCP>"
            f"{servers}</tds:NTPInformation></tds:GetNTPResponse>")


def get_network_default_gateway(ctx: OnvifContext, op: Element) -> str:
    """The gateways a client set (none at first)."""
    kinds = (("IPv6" if ":" in a else "IPv4", a) for a in ctx.camera.gateways)
    items = "".join(f"<tt:{kind}Address>{escape(a)}</tt:{kind}Address>" for kind, a in kinds)
    return f"<tds:GetNetworkDefaultGatewayResponse><tds:NetworkGateway>{items}</tds:NetworkGateway>" \
           "</tds:GetNetworkDefaultGatewayResponse>"


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def get_discovery_mode(ctx: OnvifContext, op: Element) -> str:
    """Discoverable unless a client set NonDiscoverable (the responder itself runs with --discovery)."""
    mode = "Discoverable" if ctx.camera.discoverable else "NonDiscoverable"
    return f"<tds:GetDiscoveryModeResponse><tds:DiscoveryMode>{mode}</tds:DiscoveryMode></tds:GetDiscoveryModeResponse>"


def get_wsdl_url(ctx: OnvifContext, op: Element) -> str:
    """Where the ONVIF WSDLs live."""
    return ("<tds:GetWsdlUrlResponse><tds:WsdlUrl>http://www.onvif.org/Documents/Specifications.aspx"
            "</tds:WsdlUrl></tds:GetWsdlUrlResponse>")


DEVICE_SETTINGS_OPS: dict[str, Handler] = {
    "GetServiceCapabilities": get_service_capabilities,
    "GetDNS": get_dns, "GetNTP": get_ntp, "GetNetworkDefaultGateway": get_network_default_gateway,
    "GetDiscoveryMode": get_discovery_mode, "GetWsdlUrl": get_wsdl_url,
}
