"""ONVIF Media2 (ver20) service: what a Profile T client reads to find an H.265 stream.

Media (ver10) has no way to say H.265 (its encoding enumeration stops at H.264), so a client that
wants H.265 uses Media2; both services describe the same profiles (tokens ``main`` and ``sub``)
and hand out the same RTSP URLs. Element order follows the ONVIF schema (tr2:ConfigurationSet,
tt:VideoEncoder2Configuration).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from vms_camsim.config import Codec, StreamConfig
from vms_camsim.onvif.encoder_settings import gov_length
from vms_camsim.onvif.ptz_nodes import camera_configuration_xml
from vms_camsim.onvif.soap import SoapFault, invalid_arg, text

if TYPE_CHECKING:
    from vms_camsim.onvif.device_media import Handler, OnvifContext

ENCODING = {Codec.H264: "H264", Codec.H265: "H265", Codec.MJPEG: "JPEG"}
_CONFIG_TYPES = {"VideoSource", "VideoEncoder", "PTZ"}
_RTSP_PROTOCOLS = {"RtspUnicast", "RTSP"}


def _video_source(ctx: OnvifContext, tag: str) -> str:
    main = ctx.camera.config.main
    return (f'<{tag} token="vsc0"><tt:Name>vsc0</tt:Name><tt:UseCount>{len(ctx.camera.feeds)}</tt:UseCount>'
            "<tt:SourceToken>vsrc0</tt:SourceToken>"
            f'<tt:Bounds x="0" y="0" width="{main.width}" height="{main.height}"/></{tag}>')


def _video_encoder(tag: str, token: str, stream: StreamConfig) -> str:
    gov = gov_length(stream)
    profile = ' Profile="Main"' if stream.codec in (Codec.H264, Codec.H265) else ""
    return (f'<{tag} token="vec_{token}" GovLength="{gov}"{profile}><tt:Name>{token}</tt:Name>'
            f"<tt:UseCount>1</tt:UseCount><tt:Encoding>{ENCODING[stream.codec]}</tt:Encoding>"
            f"<tt:Resolution><tt:Width>{stream.width}</tt:Width><tt:Height>{stream.height}</tt:Height>"
            '</tt:Resolution><tt:RateControl ConstantBitRate="false">'
            f"<tt:FrameRateLimit>{stream.fps}</tt:FrameRateLimit><tt:BitrateLimit>{stream.bitrate_kbps}"
            "</tt:BitrateLimit></tt:RateControl><tt:Quality>5</tt:Quality></" + tag + ">")


def _profile(ctx: OnvifContext, token: str, stream: StreamConfig, types: set[str]) -> str:
    parts = ""
    if "VideoSource" in types:
        parts += _video_source(ctx, "tr2:VideoSource")
    if "VideoEncoder" in types:
        parts += _video_encoder("tr2:VideoEncoder", token, stream)
    if "PTZ" in types and ctx.camera.ptz:
        parts += camera_configuration_xml(ctx, "tr2:PTZ")
    return (f'<tr2:Profiles token="{token}" fixed="true"><tr2:Name>{token}</tr2:Name>'
            f"<tr2:Configurations>{parts}</tr2:Configurations></tr2:Profiles>")


def _created_profile(ctx: OnvifContext, token: str, types: set[str]) -> str:
    """A profile a client created (media2_edit), with the configurations added to it."""
    created = ctx.profiles[token]
    parts = _video_source(ctx, "tr2:VideoSource") if created.source and "VideoSource" in types else ""
    if created.encoder is not None and "VideoEncoder" in types:
        parts += _video_encoder("tr2:VideoEncoder", created.encoder, ctx.camera.feeds[created.encoder].stream)
    return (f'<tr2:Profiles token="{escape(token)}" fixed="false"><tr2:Name>{escape(created.name)}</tr2:Name>'
            f"<tr2:Configurations>{parts}</tr2:Configurations></tr2:Profiles>")


def get_service_capabilities(ctx: OnvifContext, op: Element) -> str:
    """Snapshots yes; RTSP over TCP and UDP unicast; no multicast, OSD or rotation."""
    return ('<tr2:GetServiceCapabilitiesResponse><tr2:Capabilities SnapshotUri="true" Rotation="false" '
            'VideoSourceMode="false" OSD="false"><tr2:ProfileCapabilities MaximumNumberOfProfiles="2"/>'
            '<tr2:StreamingCapabilities RTSPStreaming="true" RTPMulticast="false" RTP_RTSP_TCP="true" '
            'NonAggregateControl="false"/></tr2:Capabilities></tr2:GetServiceCapabilitiesResponse>')


def get_profiles(ctx: OnvifContext, op: Element) -> str:
    """Profiles (one, with Token), with the configurations whose Type is asked ("All" for every one;
    none asked, none given, as Media2 has it)."""
    wanted = text(op, "Token")
    if wanted is not None:
        ctx.stream(wanted)
    types = {(t.text or "").strip() for t in op if t.tag.rsplit("}", 1)[-1] == "Type"}
    if "All" in types:
        types = set(_CONFIG_TYPES)
    body = "".join(_profile(ctx, token, feed.stream, types) for token, feed in ctx.camera.feeds.items()
                   if wanted in (None, token))
    body += "".join(_created_profile(ctx, token, types) for token in ctx.profiles if wanted in (None, token))
    return f"<tr2:GetProfilesResponse>{body}</tr2:GetProfilesResponse>"


def get_stream_uri(ctx: OnvifContext, op: Element) -> str:
    """The RTSP URL of a profile (RtspUnicast; RTSP as older clients say it). Multicast is refused."""
    token = ctx.feed_token(text(op, "ProfileToken"))
    protocol = text(op, "Protocol")
    if protocol not in _RTSP_PROTOCOLS:
        raise SoapFault("Sender", ("ter:InvalidArgVal", "ter:InvalidStreamSetup"),
                        f"protocol {protocol!r} is not offered (RtspUnicast is)")
    uri = escape(ctx.rtsp_urls[token])
    return f"<tr2:GetStreamUriResponse><tr2:Uri>{uri}</tr2:Uri></tr2:GetStreamUriResponse>"


def get_snapshot_uri(ctx: OnvifContext, op: Element) -> str:
    """The JPEG snapshot URL of a profile (same as Media's)."""
    token = ctx.feed_token(text(op, "ProfileToken"))
    return (f"<tr2:GetSnapshotUriResponse><tr2:Uri>{escape(ctx.base_url)}/onvif/snapshot/{token}.jpg</tr2:Uri>"
            "</tr2:GetSnapshotUriResponse>")


def _selected(ctx: OnvifContext, op: Element) -> list[tuple[str, StreamConfig]]:
    config_token, profile_token = text(op, "ConfigurationToken"), text(op, "ProfileToken")
    found = [(token, feed.stream) for token, feed in ctx.camera.feeds.items()
             if config_token in (None, f"vec_{token}") and profile_token in (None, token)]
    if not found:
        raise invalid_arg("NoConfig", f"no video encoder configuration {config_token or profile_token!r}")
    return found


def get_video_encoder_configurations(ctx: OnvifContext, op: Element) -> str:
    """One encoder configuration per profile (filtered by ConfigurationToken / ProfileToken)."""
    body = "".join(_video_encoder("tr2:Configurations", token, stream) for token, stream in _selected(ctx, op))
    return f"<tr2:GetVideoEncoderConfigurationsResponse>{body}</tr2:GetVideoEncoderConfigurationsResponse>"


def get_video_source_configurations(ctx: OnvifContext, op: Element) -> str:
    """The single video source configuration."""
    return (f"<tr2:GetVideoSourceConfigurationsResponse>{_video_source(ctx, 'tr2:Configurations')}"
            "</tr2:GetVideoSourceConfigurationsResponse>")


MEDIA2_OPS: dict[str, Handler] = {
    "GetServiceCapabilities": get_service_capabilities, "GetProfiles": get_profiles,
    "GetStreamUri": get_stream_uri, "GetSnapshotUri": get_snapshot_uri,
    "GetVideoEncoderConfigurations": get_video_encoder_configurations,
    "GetVideoSourceConfigurations": get_video_source_configurations,
}
