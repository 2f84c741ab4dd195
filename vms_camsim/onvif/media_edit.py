"""Media (ver10) operations that change configurations (SetVideoEncoderConfiguration and
SetVideoSourceConfiguration), as Profile S requires them; profiles are managed in media_profiles.

The simulator's profiles are fixed (set by the fleet file) and their streams are encoded ahead of
time and shared by every client, so nothing here changes a stream: a request that asks for the
settings the configuration already has succeeds (that is what a client's "apply" usually sends), and
one that asks for another resolution, frame rate, bitrate, codec or quality is refused with
env:Sender/ter:InvalidArgVal/ter:ConfigModify, the fault ONVIF gives for settings a device cannot
take.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

from vms_camsim.config import Codec
from vms_camsim.onvif.soap import SoapFault, child, invalid_arg, text

if TYPE_CHECKING:
    from vms_camsim.onvif.device_media import Handler, OnvifContext

_ENCODING = {Codec.H264: "H264", Codec.H265: "H265", Codec.MJPEG: "JPEG"}
QUALITY = 5.0  # the only quality GetVideoEncoderConfigurationOptions offers


def _action(subcode: str, reason: str) -> SoapFault:
    return SoapFault("Receiver", ("ter:Action", f"ter:{subcode}"), reason, 500)


def _config_modify(reason: str) -> SoapFault:
    return invalid_arg("ConfigModify", f"{reason}; the simulator's streams are encoded ahead of time")


def _number(elem: Element | None, *path: str) -> float | None:
    value = text(elem, *path)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise _config_modify(f"{'/'.join(path)} is not a number: {value!r}") from None


def set_video_encoder_configuration(ctx: OnvifContext, op: Element) -> str:
    """Accept the configuration's own settings; refuse any change of them with ter:ConfigModify."""
    config = child(op, "Configuration")
    token = config.get("token") if config is not None else None
    profile = (token or "").removeprefix("vec_")
    feed = ctx.camera.feeds.get(profile)
    if config is None or feed is None or token != f"vec_{profile}":
        raise invalid_arg("NoConfig", f"no video encoder configuration {token!r}")
    stream = feed.stream
    gov = max(1, round(stream.gop_seconds * stream.fps))
    wanted = {"Encoding": text(config, "Encoding"), "Width": _number(config, "Resolution", "Width"),
              "Height": _number(config, "Resolution", "Height"), "Quality": _number(config, "Quality"),
              "FrameRateLimit": _number(config, "RateControl", "FrameRateLimit"),
              "EncodingInterval": _number(config, "RateControl", "EncodingInterval"),
              "BitrateLimit": _number(config, "RateControl", "BitrateLimit"),
              "GovLength": _number(config, "H264", "GovLength")}
    current = {"Encoding": _ENCODING[stream.codec], "Width": stream.width, "Height": stream.height,
               "Quality": QUALITY, "FrameRateLimit": stream.fps, "EncodingInterval": 1,
               "BitrateLimit": stream.bitrate_kbps, "GovLength": gov}
    changed = [f"{key} {wanted[key]} (is {value})" for key, value in current.items()
               if wanted[key] is not None and wanted[key] != value]
    if changed:
        raise _config_modify(f"cannot change {', '.join(changed)}")
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
        raise _config_modify("the source configuration always covers the full picture of vsrc0")
    return "<trt:SetVideoSourceConfigurationResponse/>"


MEDIA_EDIT_OPS: dict[str, Handler] = {
    "SetVideoEncoderConfiguration": set_video_encoder_configuration,
    "SetVideoSourceConfiguration": set_video_source_configuration,
}
