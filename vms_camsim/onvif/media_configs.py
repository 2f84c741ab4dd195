"""Media (ver10) configuration read-outs: the video source and encoder configurations behind the
fixed profiles, their options and the service's capabilities.

The encoder options are the choices encoder_settings allows (media_edit applies them; media_profiles
manages profiles).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

from vms_camsim.config import Codec, StreamConfig
from vms_camsim.onvif.device_media import video_encoder_config_xml, video_source_config_xml
from vms_camsim.onvif.encoder_settings import BITRATE_KBPS, QUALITY, fps_range, gov_range, resolutions
from vms_camsim.onvif.media_profiles import MAX_CLIENT_PROFILES
from vms_camsim.onvif.soap import invalid_arg, text

if TYPE_CHECKING:
    from vms_camsim.onvif.device_media import Handler, OnvifContext


def _encoders(ctx: OnvifContext, op: Element) -> list[tuple[str, StreamConfig]]:
    """Encoder configurations picked by ConfigurationToken or ProfileToken (all when neither)."""
    config, profile = text(op, "ConfigurationToken"), text(op, "ProfileToken")
    found = [(token, feed.stream) for token, feed in ctx.camera.feeds.items()
             if config in (None, f"vec_{token}") and profile in (None, token)]
    if not found:
        raise invalid_arg("NoConfig", f"no video encoder configuration {config or profile!r}")
    return found


def _source(op: Element) -> None:
    token = text(op, "ConfigurationToken")
    if token not in (None, "vsc0"):
        raise invalid_arg("NoConfig", f"no video source configuration {token!r}")


def get_service_capabilities(ctx: OnvifContext, op: Element) -> str:
    """Snapshots yes; RTP over RTSP/TCP and UDP; no multicast."""
    return ('<trt:GetServiceCapabilitiesResponse><trt:Capabilities SnapshotUri="true" Rotation="false" '
            f'VideoSourceMode="false" OSD="false"><trt:ProfileCapabilities MaximumNumberOfProfiles='
            f'"{len(ctx.camera.feeds) + MAX_CLIENT_PROFILES}"/>'
            '<trt:StreamingCapabilities RTPMulticast="false" RTP_TCP="true" RTP_RTSP_TCP="true" '
            'NonAggregateControl="false" NoRTSPStreaming="false"/></trt:Capabilities>'
            "</trt:GetServiceCapabilitiesResponse>")


def get_video_source_configurations(ctx: OnvifContext, op: Element) -> str:
    """The single video source configuration."""
    body = video_source_config_xml(ctx, "trt:Configurations")
    return f"<trt:GetVideoSourceConfigurationsResponse>{body}</trt:GetVideoSourceConfigurationsResponse>"


def get_video_source_configuration(ctx: OnvifContext, op: Element) -> str:
    """The video source configuration by token."""
    _source(op)
    body = video_source_config_xml(ctx, "trt:Configuration")
    return f"<trt:GetVideoSourceConfigurationResponse>{body}</trt:GetVideoSourceConfigurationResponse>"


def get_compatible_video_source_configurations(ctx: OnvifContext, op: Element) -> str:
    """Every profile can use the one source configuration."""
    ctx.stream(text(op, "ProfileToken"))
    body = video_source_config_xml(ctx, "trt:Configurations")
    return (f"<trt:GetCompatibleVideoSourceConfigurationsResponse>{body}"
            "</trt:GetCompatibleVideoSourceConfigurationsResponse>")


def get_video_source_configuration_options(ctx: OnvifContext, op: Element) -> str:
    """Bounds fixed to the full picture of source vsrc0."""
    main = ctx.camera.config.main

    def rng(tag: str, value: int) -> str:
        return f"<tt:{tag}><tt:Min>{value}</tt:Min><tt:Max>{value}</tt:Max></tt:{tag}>"

    return ("<trt:GetVideoSourceConfigurationOptionsResponse><trt:Options><tt:BoundsRange>"
            f"{rng('XRange', 0)}{rng('YRange', 0)}{rng('WidthRange', main.width)}{rng('HeightRange', main.height)}"
            "</tt:BoundsRange><tt:VideoSourceTokensAvailable>vsrc0</tt:VideoSourceTokensAvailable></trt:Options>"
            "</trt:GetVideoSourceConfigurationOptionsResponse>")


def get_video_encoder_configurations(ctx: OnvifContext, op: Element) -> str:
    """One encoder configuration per profile."""
    body = "".join(video_encoder_config_xml(t, s, "trt:Configurations") for t, s in _encoders(ctx, op))
    return f"<trt:GetVideoEncoderConfigurationsResponse>{body}</trt:GetVideoEncoderConfigurationsResponse>"


def get_video_encoder_configuration(ctx: OnvifContext, op: Element) -> str:
    """An encoder configuration by token (vec_main, vec_sub)."""
    if text(op, "ConfigurationToken") is None:
        raise invalid_arg("NoConfig", "ConfigurationToken is required")
    token, stream = _encoders(ctx, op)[0]
    body = video_encoder_config_xml(token, stream, "trt:Configuration")
    return f"<trt:GetVideoEncoderConfigurationResponse>{body}</trt:GetVideoEncoderConfigurationResponse>"


def get_compatible_video_encoder_configurations(ctx: OnvifContext, op: Element) -> str:
    """A fixed profile's own encoder configuration; every one for a profile a client created."""
    token = text(op, "ProfileToken") or ""
    if token in ctx.profiles:
        body = "".join(video_encoder_config_xml(t, f.stream, "trt:Configurations") for t, f in ctx.camera.feeds.items())
    else:
        body = video_encoder_config_xml(token, ctx.stream(token), "trt:Configurations")
    return (f"<trt:GetCompatibleVideoEncoderConfigurationsResponse>{body}"
            "</trt:GetCompatibleVideoEncoderConfigurationsResponse>")


def _range(tag: str, low: float, high: float) -> str:
    return f"<tt:{tag}><tt:Min>{low:g}</tt:Min><tt:Max>{high:g}</tt:Max></tt:{tag}>"


def get_video_encoder_configuration_options(ctx: OnvifContext, op: Element) -> str:
    """What SetVideoEncoderConfiguration takes (encoder_settings), for H.264 and JPEG; H.265 is Media2's."""
    _, stream = _encoders(ctx, op)[0]
    rate = _range("FrameRateRange", *fps_range(stream)) + _range("EncodingIntervalRange", 1, 1)
    bitrate = _range("BitrateRange", *BITRATE_KBPS)

    def sizes(codec: Codec) -> str:
        return "".join(f"<tt:ResolutionsAvailable><tt:Width>{w}</tt:Width><tt:Height>{h}</tt:Height>"
                       "</tt:ResolutionsAvailable>" for w, h in resolutions(ctx.camera, codec))

    jpeg = f"{sizes(Codec.MJPEG)}{rate}"
    h264 = f"{sizes(Codec.H264)}{_range('GovLengthRange', *gov_range(stream))}{rate}" \
        "<tt:H264ProfilesSupported>Main</tt:H264ProfilesSupported>"
    return ("<trt:GetVideoEncoderConfigurationOptionsResponse><trt:Options>"
            f"{_range('QualityRange', QUALITY, QUALITY)}<tt:JPEG>{jpeg}</tt:JPEG><tt:H264>{h264}</tt:H264>"
            f"<tt:Extension><tt:JPEG>{jpeg}{bitrate}</tt:JPEG><tt:H264>{h264}{bitrate}</tt:H264></tt:Extension>"
            "</trt:Options></trt:GetVideoEncoderConfigurationOptionsResponse>")


def get_guaranteed_number_of_video_encoder_instances(ctx: OnvifContext, op: Element) -> str:
    """Encoded streams are shared, so every profile can be streamed by many clients at once."""
    _source(op)
    return ("<trt:GetGuaranteedNumberOfVideoEncoderInstancesResponse><trt:TotalNumber>"
            f"{len(ctx.camera.feeds)}</trt:TotalNumber></trt:GetGuaranteedNumberOfVideoEncoderInstancesResponse>")


MEDIA_CONFIG_OPS: dict[str, Handler] = {
    "GetServiceCapabilities": get_service_capabilities,
    "GetVideoSourceConfigurations": get_video_source_configurations,
    "GetVideoSourceConfiguration": get_video_source_configuration,
    "GetCompatibleVideoSourceConfigurations": get_compatible_video_source_configurations,
    "GetVideoSourceConfigurationOptions": get_video_source_configuration_options,
    "GetVideoEncoderConfigurations": get_video_encoder_configurations,
    "GetVideoEncoderConfiguration": get_video_encoder_configuration,
    "GetCompatibleVideoEncoderConfigurations": get_compatible_video_encoder_configurations,
    "GetVideoEncoderConfigurationOptions": get_video_encoder_configuration_options,
    "GetGuaranteedNumberOfVideoEncoderInstances": get_guaranteed_number_of_video_encoder_instances,
}
