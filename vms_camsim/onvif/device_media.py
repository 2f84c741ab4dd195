"""ONVIF device management and media (profile S) operations.

Handlers take the camera context and the operation element and return the response body XML.
Element order follows the ONVIF schema because zeep parses sequences in order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from vms_camsim.camera import CameraRuntime
from vms_camsim.config import Codec, StreamConfig
from vms_camsim.onvif.device_network import NetworkState
from vms_camsim.onvif.imaging import ImagingState
from vms_camsim.onvif.ptz_nodes import camera_configuration_xml
from vms_camsim.onvif.soap import NS, SeenNonces, SoapFault, invalid_arg, text
from vms_camsim.onvif.users import DigestUsers, UserStore
from vms_camsim.ptz import Vector

SERVICE_PATHS = {"device": "device_service", "media": "media_service", "media2": "media2_service",
                 "ptz": "ptz_service", "events": "events_service", "imaging": "imaging_service",
                 "search": "search_service", "replay": "replay_service", "recording": "recording_service"}


@dataclass
class ClientProfile:
    """A media profile a client created: empty until it adds the source and an encoder configuration
    (``encoder`` is the fixed profile whose stream it then plays)."""

    name: str
    source: bool = False
    encoder: str | None = None


@dataclass
class OnvifContext:
    """What a handler needs: the camera, its HTTP base URL and its RTSP URLs."""

    camera: CameraRuntime
    base_url: str
    rtsp_urls: dict[str, str]
    nonces: SeenNonces = field(default_factory=SeenNonces)
    users: UserStore = field(init=False)
    http_auth: DigestUsers = field(init=False)
    imaging: ImagingState = field(default_factory=ImagingState)
    network: NetworkState = field(default_factory=NetworkState)
    ptz_home: Vector | None = None  # SetHomePosition; None: the centre (0, 0, 0)
    profiles: dict[str, ClientProfile] = field(default_factory=dict)  # CreateProfile's, by token
    aux: dict[str, str] = field(default_factory=dict)  # SendAuxiliaryCommand: device -> state (ptz_aux)

    def __post_init__(self) -> None:
        # ONVIF's HTTP-level authentication is Digest only (Basic would send the password in clear).
        cam = self.camera.config
        self.users = UserStore(cam.username, cam.password)
        self.http_auth = DigestUsers(f"ONVIF {cam.name}", self.users, cam.faults.refuse_auth)

    def xaddr(self, service: str) -> str:
        """Absolute address of one of this camera's services."""
        return f"{self.base_url}/onvif/{SERVICE_PATHS[service]}"

    def feed_token(self, token: str | None) -> str:
        """The stream (fixed profile token) a profile plays. Raises ter:NoProfile, and
        ter:IncompleteConfiguration for a created profile without an encoder configuration."""
        if (token or "") in self.camera.feeds:
            return token or ""
        created = self.profiles.get(token or "")
        if created is None:
            raise invalid_arg("NoProfile", f"no profile {token!r}")
        if created.encoder is None:
            raise SoapFault("Receiver", ("ter:Action", "ter:IncompleteConfiguration"),
                            f"profile {token} has no video encoder configuration", 500)
        return created.encoder

    def stream(self, token: str | None) -> StreamConfig:
        """The stream behind a media profile token (see feed_token for the faults)."""
        return self.camera.feeds[self.feed_token(token)].stream


Handler = Callable[[OnvifContext, Element], str | Awaitable[str]]  # async: applies a change first


def get_device_information(ctx: OnvifContext, op: Element) -> str:
    """Identity of the camera from its configuration."""
    cam = ctx.camera.config
    return ("<tds:GetDeviceInformationResponse>"
            f"<tds:Manufacturer>{escape(cam.manufacturer)}</tds:Manufacturer>"
            f"<tds:Model>{escape(cam.model)}</tds:Model><tds:FirmwareVersion>1.0.0</tds:FirmwareVersion>"
            f"<tds:SerialNumber>{escape(cam.serial_number)}</tds:SerialNumber>"
            f"<tds:HardwareId>{escape(cam.model)}-HW</tds:HardwareId></tds:GetDeviceInformationResponse>")


def _datetime_xml(tag: str, now: dt.datetime) -> str:
    return (f"<tt:{tag}><tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute>"
            f"<tt:Second>{now.second}</tt:Second></tt:Time><tt:Date><tt:Year>{now.year}</tt:Year>"
            f"<tt:Month>{now.month}</tt:Month><tt:Day>{now.day}</tt:Day></tt:Date></tt:{tag}>")


def get_system_date_and_time(ctx: OnvifContext, op: Element) -> str:
    """The camera's clock in UTC (clients use it to correct WS-Security timestamps): the host's, or as
    SetSystemDateAndTime set it."""
    offset = ctx.camera.clock_offset_s
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset)
    return ("<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            f"<tt:DateTimeType>{'Manual' if offset else 'NTP'}</tt:DateTimeType>"
            "<tt:DaylightSavings>false</tt:DaylightSavings>"
            "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
            f"{_datetime_xml('UTCDateTime', now)}{_datetime_xml('LocalDateTime', now)}"
            "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>")


def get_capabilities(ctx: OnvifContext, op: Element) -> str:
    """Top-level capabilities with the XAddr of every service this camera has."""
    ptz = f"<tt:PTZ><tt:XAddr>{ctx.xaddr('ptz')}</tt:XAddr></tt:PTZ>" if ctx.camera.ptz else ""
    return ("<tds:GetCapabilitiesResponse><tds:Capabilities>"
            f"<tt:Device><tt:XAddr>{ctx.xaddr('device')}</tt:XAddr></tt:Device>"
            f"<tt:Events><tt:XAddr>{ctx.xaddr('events')}</tt:XAddr>"
            "<tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport>"
            "<tt:WSPullPointSupport>true</tt:WSPullPointSupport>"
            "<tt:WSPausableSubscriptionManagerInterfaceSupport>false"
            "</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>"
            f"<tt:Imaging><tt:XAddr>{ctx.xaddr('imaging')}</tt:XAddr></tt:Imaging>"
            f"<tt:Media><tt:XAddr>{ctx.xaddr('media')}</tt:XAddr><tt:StreamingCapabilities>"
            "<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>"
            "<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
            f"{ptz}</tds:Capabilities></tds:GetCapabilitiesResponse>")


def get_services(ctx: OnvifContext, op: Element) -> str:
    """Every service with its namespace, address and version."""
    services = [("device", NS["tds"]), ("media", NS["trt"]), ("media2", NS["tr2"]), ("events", NS["tev"]),
                ("imaging", NS["timg"])]
    if ctx.camera.ptz:
        services.append(("ptz", NS["tptz"]))
    if ctx.camera.card is not None:  # edge storage: Profile G search, replay and recording services
        services += [(name, f"http://www.onvif.org/ver10/{name}/wsdl") for name in ("search", "replay", "recording")]
    items = "".join(f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{ctx.xaddr(name)}</tds:XAddr>"
                    "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
                    for name, ns in services)
    return f"<tds:GetServicesResponse>{items}</tds:GetServicesResponse>"


def scopes(ctx: OnvifContext) -> list[str]:
    """ONVIF scopes, fixed then configurable (also announced by WS-Discovery)."""
    return fixed_scopes(ctx) + list(ctx.camera.configurable_scopes)


def fixed_scopes(ctx: OnvifContext) -> list[str]:
    """The scopes that come with the camera and cannot be removed."""
    cam = ctx.camera.config
    kinds = ["video_encoder", "Network_Video_Transmitter"] + (["ptz"] if cam.ptz else [])
    return ([f"onvif://www.onvif.org/type/{k}" for k in kinds] + [
        "onvif://www.onvif.org/Profile/Streaming",
        f"onvif://www.onvif.org/name/{cam.manufacturer.replace(' ', '_')}_{cam.name}",
        f"onvif://www.onvif.org/hardware/{cam.model.replace(' ', '_')}",
        "onvif://www.onvif.org/location/simulator"])


def get_scopes(ctx: OnvifContext, op: Element) -> str:
    """The built-in scopes (Fixed) and those a client set (Configurable)."""
    fixed = set(fixed_scopes(ctx))
    items = "".join(f"<tds:Scopes><tt:ScopeDef>{'Fixed' if s in fixed else 'Configurable'}</tt:ScopeDef>"
                    f"<tt:ScopeItem>{escape(s)}</tt:ScopeItem></tds:Scopes>" for s in scopes(ctx))
    return f"<tds:GetScopesResponse>{items}</tds:GetScopesResponse>"


def get_hostname(ctx: OnvifContext, op: Element) -> str:
    """The host name a client set, else the camera name."""
    name = ctx.camera.hostname or ctx.camera.name
    return (f"<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP>"
            f"<tt:Name>{escape(name)}</tt:Name></tds:HostnameInformation></tds:GetHostnameResponse>")


_ENCODING = {Codec.H264: "H264", Codec.H265: "H265", Codec.MJPEG: "JPEG"}


def video_source_config_xml(ctx: OnvifContext, tag: str) -> str:
    """The single video source configuration (tt:VideoSourceConfiguration) as element ``tag``."""
    main = ctx.camera.config.main
    return (f'<{tag} token="vsc0"><tt:Name>vsc0</tt:Name><tt:UseCount>{len(ctx.camera.feeds)}</tt:UseCount>'
            "<tt:SourceToken>vsrc0</tt:SourceToken>"
            f'<tt:Bounds x="0" y="0" width="{main.width}" height="{main.height}"/></{tag}>')


# Required by the schema (clients send it back in SetVideoEncoderConfiguration); the simulator has no multicast.
_NO_MULTICAST = ("<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address>"
                 "</tt:Address><tt:Port>0</tt:Port><tt:TTL>0</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>")


def video_encoder_config_xml(token: str, stream: StreamConfig, tag: str) -> str:
    """A profile's encoder configuration (tt:VideoEncoderConfiguration, token ``vec_<profile>``)."""
    gov = max(1, round(stream.gop_seconds * stream.fps))
    codec_block = f"<tt:H264><tt:GovLength>{gov}</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>" \
        if stream.codec is Codec.H264 else ""
    return (f'<{tag} token="vec_{token}"><tt:Name>{token}</tt:Name>'
            f"<tt:UseCount>1</tt:UseCount><tt:Encoding>{_ENCODING[stream.codec]}</tt:Encoding>"
            f"<tt:Resolution><tt:Width>{stream.width}</tt:Width><tt:Height>{stream.height}</tt:Height>"
            "</tt:Resolution><tt:Quality>5</tt:Quality><tt:RateControl>"
            f"<tt:FrameRateLimit>{stream.fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval>"
            f"<tt:BitrateLimit>{stream.bitrate_kbps}</tt:BitrateLimit></tt:RateControl>{codec_block}{_NO_MULTICAST}"
            f"<tt:SessionTimeout>PT60S</tt:SessionTimeout></{tag}>")


def _profile(ctx: OnvifContext, token: str, stream: StreamConfig) -> str:
    ptz = camera_configuration_xml(ctx, "tt:PTZConfiguration") if ctx.camera.ptz else ""
    return (f'<trt:Profiles token="{token}" fixed="true"><tt:Name>{token}</tt:Name>'
            f'{video_source_config_xml(ctx, "tt:VideoSourceConfiguration")}'
            f'{video_encoder_config_xml(token, stream, "tt:VideoEncoderConfiguration")}'
            f"{ptz}</trt:Profiles>")


def client_profile_xml(ctx: OnvifContext, token: str, tag: str) -> str:
    """A created profile with the configurations added to it so far."""
    created = ctx.profiles[token]
    source = video_source_config_xml(ctx, "tt:VideoSourceConfiguration") if created.source else ""
    encoder = "" if created.encoder is None else video_encoder_config_xml(
        created.encoder, ctx.camera.feeds[created.encoder].stream, "tt:VideoEncoderConfiguration")
    return (f'<{tag} token="{escape(token)}" fixed="false"><tt:Name>{escape(created.name)}</tt:Name>'
            f"{source}{encoder}</{tag}>")


def get_profiles(ctx: OnvifContext, op: Element) -> str:
    """One fixed media profile per stream, tokens 'main' and 'sub', then those clients created."""
    body = "".join(_profile(ctx, token, feed.stream) for token, feed in ctx.camera.feeds.items())
    body += "".join(client_profile_xml(ctx, token, "trt:Profiles") for token in ctx.profiles)
    return f"<trt:GetProfilesResponse>{body}</trt:GetProfilesResponse>"


def get_profile(ctx: OnvifContext, op: Element) -> str:
    """A single profile by token."""
    token = text(op, "ProfileToken") or ""
    if token in ctx.profiles:
        return f"<trt:GetProfileResponse>{client_profile_xml(ctx, token, 'trt:Profile')}</trt:GetProfileResponse>"
    stream = ctx.stream(token)
    return f"<trt:GetProfileResponse>{_profile(ctx, token, stream).replace('trt:Profiles', 'trt:Profile')}" \
           "</trt:GetProfileResponse>"


def _media_uri(tag: str, uri: str) -> str:
    return (f"<trt:{tag}Response><trt:MediaUri><tt:Uri>{escape(uri)}</tt:Uri>"
            "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
            "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>"
            f"</trt:MediaUri></trt:{tag}Response>")


def get_stream_uri(ctx: OnvifContext, op: Element) -> str:
    """The RTSP URL of the profile's stream (unicast RTSP/TCP and UDP both work)."""
    token = text(op, "ProfileToken")
    ctx.stream(token)
    protocol = text(op, "StreamSetup", "Transport", "Protocol")
    if text(op, "StreamSetup", "Stream") == "RTP-Multicast":
        raise SoapFault("Sender", ("ter:InvalidArgVal", "ter:InvalidStreamSetup"), "multicast not supported")
    if protocol not in (None, "RTSP", "UDP", "TCP"):
        raise SoapFault("Sender", ("ter:InvalidArgVal", "ter:InvalidStreamSetup"), f"protocol {protocol}")
    return _media_uri("GetStreamUri", ctx.rtsp_urls[ctx.feed_token(token)])


def get_snapshot_uri(ctx: OnvifContext, op: Element) -> str:
    """An HTTP URL serving a JPEG of the profile's current picture."""
    feed = ctx.feed_token(text(op, "ProfileToken"))
    return _media_uri("GetSnapshotUri", f"{ctx.base_url}/onvif/snapshot/{feed}.jpg")


def get_video_sources(ctx: OnvifContext, op: Element) -> str:
    """The single video source."""
    main = ctx.camera.config.main
    return ('<trt:GetVideoSourcesResponse><trt:VideoSources token="vsrc0">'
            f"<tt:Framerate>{main.fps}</tt:Framerate><tt:Resolution><tt:Width>{main.width}</tt:Width>"
            f"<tt:Height>{main.height}</tt:Height></tt:Resolution></trt:VideoSources>"
            "</trt:GetVideoSourcesResponse>")


DEVICE_OPS: dict[str, Handler] = {
    "GetDeviceInformation": get_device_information, "GetSystemDateAndTime": get_system_date_and_time,
    "GetCapabilities": get_capabilities, "GetServices": get_services,
    "GetScopes": get_scopes, "GetHostname": get_hostname,
}
MEDIA_OPS: dict[str, Handler] = {
    "GetProfiles": get_profiles, "GetProfile": get_profile, "GetStreamUri": get_stream_uri,
    "GetSnapshotUri": get_snapshot_uri, "GetVideoSources": get_video_sources,
}
