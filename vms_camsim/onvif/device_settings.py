"""Device management read-outs a Profile S client asks for while it sets a camera up: network
protocols and ports, DNS/NTP/gateway, discovery mode, users, service capabilities.

The simulator's network settings are fixed by its command line, so these report them and the
matching Set* operations are not offered (ActionNotSupported) rather than pretending to apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit
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


def get_network_protocols(ctx: OnvifContext, op: Element) -> str:
    """HTTP on the camera's ONVIF port and RTSP on the simulator's RTSP port."""
    http_port = urlsplit(ctx.base_url).port or 80
    rtsp_ports = {urlsplit(url).port or 554 for url in ctx.rtsp_urls.values()} or {554}
    rtsp = "".join(f"<tt:Port>{port}</tt:Port>" for port in sorted(rtsp_ports))
    return ("<tds:GetNetworkProtocolsResponse>"
            f"<tds:NetworkProtocols><tt:Name>HTTP</tt:Name><tt:Enabled>true</tt:Enabled><tt:Port>{http_port}"
            "</tt:Port></tds:NetworkProtocols>"
            f"<tds:NetworkProtocols><tt:Name>RTSP</tt:Name><tt:Enabled>true</tt:Enabled>{rtsp}"
            "</tds:NetworkProtocols></tds:GetNetworkProtocolsResponse>")


def get_dns(ctx: OnvifContext, op: Element) -> str:
    """No DNS servers configured (the simulator resolves nothing)."""
    return ("<tds:GetDNSResponse><tds:DNSInformation><tt:FromDHCP>false</tt:FromDHCP>"
            "</tds:DNSInformation></tds:GetDNSResponse>")


def get_ntp(ctx: OnvifContext, op: Element) -> str:
    """No NTP server: the simulator uses its host's clock."""
    return ("<tds:GetNTPResponse><tds:NTPInformation><tt:FromDHCP>false</tt:FromDHCP>"
            "</tds:NTPInformation></tds:GetNTPResponse>")


def get_network_default_gateway(ctx: OnvifContext, op: Element) -> str:
    """No gateway."""
    return "<tds:GetNetworkDefaultGatewayResponse><tds:NetworkGateway/></tds:GetNetworkDefaultGatewayResponse>"


def get_discovery_mode(ctx: OnvifContext, op: Element) -> str:
    """Discoverable unless a client set NonDiscoverable (the responder itself runs with --discovery)."""
    mode = "Discoverable" if ctx.camera.discoverable else "NonDiscoverable"
    return f"<tds:GetDiscoveryModeResponse><tds:DiscoveryMode>{mode}</tds:DiscoveryMode></tds:GetDiscoveryModeResponse>"


def get_users(ctx: OnvifContext, op: Element) -> str:
    """The camera's one user, an administrator (passwords are never returned)."""
    return (f"<tds:GetUsersResponse><tds:User><tt:Username>{escape(ctx.camera.config.username)}</tt:Username>"
            "<tt:UserLevel>Administrator</tt:UserLevel></tds:User></tds:GetUsersResponse>")


def get_wsdl_url(ctx: OnvifContext, op: Element) -> str:
    """Where the ONVIF WSDLs live."""
    return ("<tds:GetWsdlUrlResponse><tds:WsdlUrl>http://www.onvif.org/Documents/Specifications.aspx"
            "</tds:WsdlUrl></tds:GetWsdlUrlResponse>")


DEVICE_SETTINGS_OPS: dict[str, Handler] = {
    "GetServiceCapabilities": get_service_capabilities, "GetNetworkProtocols": get_network_protocols,
    "GetDNS": get_dns, "GetNTP": get_ntp, "GetNetworkDefaultGateway": get_network_default_gateway,
    "GetDiscoveryMode": get_discovery_mode, "GetUsers": get_users, "GetWsdlUrl": get_wsdl_url,
}
