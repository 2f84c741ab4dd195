"""Media (ver10) configuration read-outs: the video source and encoder configurations behind the
fixed profiles, their options and the service's capabilities.

The streams are encoded ahead of time, so each configuration's options are exactly its current
settings (media_edit refuses others; media_profiles manages profiles).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

from vms_camsim.config import Codec, StreamConfig
from vms_camsim.onvif.device_media import video_encoder_config_xml, video_source_config_xml
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


def get_video_encoder_configuration_options(ctx: OnvifContext, op: Element) -> str:
    """The encoder's current settings as its only option (H.264 and JPEG; H.265 is described by Media2)."""
    _, stream = _encoders(ctx, op)[0]
    gov = max(1, round(stream.gop_seconds * stream.fps))
    size = f"<tt:ResolutionsAvailable><tt:Width>{stream.width}</tt:Width><tt:Height>{stream.height}</tt:Height>" \
           "</tt:ResolutionsAvailable>"
    rate = f"<tt:FrameRateRange><tt:Min>{stream.fps}</tt:Min><tt:Max>{stream.fps}</tt:Max></tt:FrameRateRange>" \
           "<tt:EncodingIntervalRange><tt:Min>1</tt:Min><tt:Max>1</tt:Max></tt:EncodingIntervalRange>"
    codec = ""
    if stream.codec is Codec.MJPEG:
        codec = f"<tt:JPEG>{size}{rate}</tt:JPEG>"
    elif stream.codec is Codec.H264:
        codec = (f"<tt:H264>{size}<tt:GovLengthRange><tt:Min>{gov}</tt:Min><tt:Max>{gov}</tt:Max>"
                 f"</tt:GovLengthRange>{rate}<tt:H264ProfilesSupported>Main</tt:H264ProfilesSupported></tt:H264>")
    return ("<trt:GetVideoEncoderConfigurationOptionsResponse><trt:Options>"
            f"<tt:QualityRange><tt:Min>5</tt:Min><tt:Max>5</tt:Max></tt:QualityRange>{codec}</trt:Options>"
            "</trt:GetVideoEncoderConfigurationOptionsResponse>")


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
