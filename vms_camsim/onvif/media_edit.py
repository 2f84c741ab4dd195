"""Media (ver10) operations that change configurations (SetVideoEncoderConfiguration and
SetVideoSourceConfiguration), as Profile S requires them; profiles are managed in media_profiles.

An encoder change is applied to the stream (encoder_settings: re-encoded before the answer, within
the options GetVideoEncoderConfigurationOptions lists; Media ver10 can say H.264 and JPEG, H.265 goes
through Media2). The source configuration always covers the full picture: asking for other bounds is
env:Sender/ter:InvalidArgVal/ter:ConfigModify, the fault ONVIF gives for settings a device cannot take.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

from vms_camsim.config import Codec
from vms_camsim.onvif.encoder_settings import Wanted, apply_stream, changed_stream, config_modify
from vms_camsim.onvif.soap import child, invalid_arg, text

if TYPE_CHECKING:
    from vms_camsim.onvif.device_media import Handler, OnvifContext


def number(elem: Element | None, *path: str) -> float | None:
    """A numeric element of a Set request (None when absent). Raises ter:ConfigModify."""
    value = text(elem, *path)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise config_modify(f"{'/'.join(path)} is not a number: {value!r}") from None


def encoder_token(ctx: OnvifContext, config: Element | None) -> str:
    """The stream (profile token) behind a configuration's token vec_<profile>. Raises ter:NoConfig."""
    token = config.get("token") if config is not None else None
    profile = (token or "").removeprefix("vec_")
    if config is None or profile not in ctx.camera.feeds or token != f"vec_{profile}":
        raise invalid_arg("NoConfig", f"no video encoder configuration {token!r}")
    return profile


async def set_video_encoder_configuration(ctx: OnvifContext, op: Element) -> str:
    """Re-encode the stream with the settings asked (H.264 or JPEG); ter:ConfigModify outside the options."""
    config = child(op, "Configuration")
    token = encoder_token(ctx, config)
    wanted = Wanted(encoding=text(config, "Encoding"), width=number(config, "Resolution", "Width"),
                    height=number(config, "Resolution", "Height"), quality=number(config, "Quality"),
                    fps=number(config, "RateControl", "FrameRateLimit"),
                    encoding_interval=number(config, "RateControl", "EncodingInterval"),
                    bitrate_kbps=number(config, "RateControl", "BitrateLimit"), gov=number(config, "H264", "GovLength"))
    stream = changed_stream(ctx.camera, token, wanted, {Codec.H264, Codec.MJPEG, ctx.camera.feeds[token].stream.codec})
    await apply_stream(ctx.camera, token, stream)
    return "<trt:SetVideoEncoderConfigurationResponse/>"


def set_video_source_configuration(ctx: OnvifContext, op: Element) -> str:
    """Accept vsc0 as it is (the full picture of vsrc0); other bounds or sources are ter:ConfigModify."""
    config = child(op, "Configuration")
    if config is None or config.get("token") != "vsc0":
        raise invalid_arg("NoConfig", "no such video source configuration")
    main = ctx.camera.config.main
    source = text(config, "SourceToken")
    bounds = child(config, "Bounds")
    wanted = {k: bounds.get(k) for k in ("x", "y", "width", "height")} if bounds is not None else {}
    full = {"x": "0", "y": "0", "width": str(main.width), "height": str(main.height)}
    if source not in (None, "vsrc0") or any(v is not None and v != full[k] for k, v in wanted.items()):
        raise config_modify("the source configuration always covers the full picture of vsrc0")
    return "<trt:SetVideoSourceConfigurationResponse/>"


MEDIA_EDIT_OPS: dict[str, Handler] = {
    "SetVideoEncoderConfiguration": set_video_encoder_configuration,
    "SetVideoSourceConfiguration": set_video_source_configuration,
}
