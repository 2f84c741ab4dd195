"""Media2 (ver20) operations that change things, as a Profile T client uses them: encoder settings
(H.264, H.265 and JPEG, applied to the stream by encoder_settings), their options, and profiles
(CreateProfile, DeleteProfile, AddConfiguration, RemoveConfiguration).

Profiles are the same as Media's (the records of media_profiles): the fixed ones keep their own
configurations (adding them again is accepted, anything else is ter:ConfigurationConflict), created
ones take the source vsc0 and any encoder configuration and play that encoder's stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from vms_camsim.config import Codec
from vms_camsim.onvif.device_media import ClientProfile
from vms_camsim.onvif.encoder_settings import (
    BITRATE_KBPS,
    NAMES,
    QUALITY,
    Wanted,
    apply_stream,
    changed_stream,
    fps_range,
    gov_range,
    resolutions,
)
from vms_camsim.onvif.media_edit import encoder_token, number
from vms_camsim.onvif.media_profiles import MAX_CLIENT_PROFILES
from vms_camsim.onvif.soap import SoapFault, child, invalid_arg, local, text

if TYPE_CHECKING:
    from vms_camsim.onvif.device_media import Handler, OnvifContext

_CODECS = {Codec.H264, Codec.H265, Codec.MJPEG}
_KNOWN_TYPES = {"VideoSource", "VideoEncoder", "PTZ", "AudioSource", "AudioEncoder", "Metadata", "Analytics",
                "AudioOutput", "AudioDecoder", "All"}


def _action(subcode: str, reason: str) -> SoapFault:
    return SoapFault("Receiver", ("ter:Action", f"ter:{subcode}"), reason, 500)


async def set_video_encoder_configuration(ctx: OnvifContext, op: Element) -> str:
    """Re-encode the stream with the settings asked (H.264, H.265 or JPEG); ter:ConfigModify outside the options."""
    config = child(op, "Configuration")
    token = encoder_token(ctx, config)
    assert config is not None
    gov = config.get("GovLength")
    try:
        gov_value = float(gov) if gov is not None else None
    except ValueError:
        raise invalid_arg("ConfigModify", f"GovLength is not a number: {gov!r}") from None
    wanted = Wanted(encoding=text(config, "Encoding"), width=number(config, "Resolution", "Width"),
                    height=number(config, "Resolution", "Height"), quality=number(config, "Quality"),
                    fps=number(config, "RateControl", "FrameRateLimit"),
                    bitrate_kbps=number(config, "RateControl", "BitrateLimit"), gov=gov_value)
    await apply_stream(ctx.camera, token, changed_stream(ctx.camera, token, wanted, _CODECS))
    return "<tr2:SetVideoEncoderConfigurationResponse/>"


def get_video_encoder_configuration_options(ctx: OnvifContext, op: Element) -> str:
    """Per encoding, the sizes, frame rates, GOP lengths and bitrates SetVideoEncoderConfiguration takes."""
    config_token, profile_token = text(op, "ConfigurationToken"), text(op, "ProfileToken")
    token = (config_token or "").removeprefix("vec_") if config_token else profile_token
    feed = ctx.camera.feeds.get(token or "main")
    if feed is None or (config_token is not None and config_token != f"vec_{token}"):
        raise invalid_arg("NoConfig", f"no video encoder configuration {config_token or profile_token!r}")
    stream = feed.stream
    low, high = fps_range(stream)
    rates = " ".join(str(r) for r in sorted({low, 5, 10, 15, 20, 25, high, stream.fps}) if low <= r <= high)
    body = ""
    for codec in sorted(_CODECS, key=lambda c: (c is not stream.codec, NAMES[c])):  # the current one first
        sizes = "".join(f"<tt:ResolutionsAvailable><tt:Width>{w}</tt:Width><tt:Height>{h}</tt:Height>"
                        "</tt:ResolutionsAvailable>" for w, h in resolutions(ctx.camera, codec))
        gov = ' GovLengthRange="{} {}" ProfilesSupported="Main"'.format(*gov_range(stream)) \
            if codec is not Codec.MJPEG else ""
        body += (f'<tr2:Options{gov} FrameRatesSupported="{rates}" ConstantBitRateSupported="false">'
                 f"<tt:Encoding>{NAMES[codec]}</tt:Encoding><tt:QualityRange><tt:Min>{QUALITY:g}</tt:Min>"
                 f"<tt:Max>{QUALITY:g}</tt:Max></tt:QualityRange>{sizes}<tt:BitrateRange>"
                 f"<tt:Min>{BITRATE_KBPS[0]}</tt:Min><tt:Max>{BITRATE_KBPS[1]}</tt:Max></tt:BitrateRange>"
                 "</tr2:Options>")
    return (f"<tr2:GetVideoEncoderConfigurationOptionsResponse>{body}"
            "</tr2:GetVideoEncoderConfigurationOptionsResponse>")


def _refs(op: Element) -> list[tuple[str, str | None]]:
    """The (Type, Token) of each Configuration element of a request."""
    refs = []
    for elem in op:
        if local(elem.tag) == "Configuration":
            kind = text(elem, "Type") or ""
            if kind not in _KNOWN_TYPES:
                raise invalid_arg("InvalidArgs", f"unknown configuration type {escape(kind)!r}")
            refs.append((kind, text(elem, "Token")))
    return refs


def _add(ctx: OnvifContext, profile: str, created: ClientProfile | None, kind: str, token: str | None) -> None:
    if kind == "VideoSource":
        if token not in (None, "vsc0"):
            raise invalid_arg("NoConfig", f"no video source configuration {escape(token or '')!r}")
        if created is not None:
            created.source = True
    elif kind == "VideoEncoder":
        encoder = (token or "").removeprefix("vec_") if token else profile
        if encoder not in ctx.camera.feeds or (token is not None and token != f"vec_{encoder}"):
            raise invalid_arg("NoConfig", f"no video encoder configuration {escape(token or '')!r}")
        if created is not None:
            created.encoder = encoder
        elif encoder != profile:
            raise _action("ConfigurationConflict", f"profile {profile} is fixed to vec_{profile}")
    elif kind == "PTZ" and ctx.camera.ptz is not None and token in (None, "ptz0"):
        if created is not None:
            raise _action("ConfigurationConflict", "PTZ is steered through the fixed profiles")
    else:
        raise _action("ConfigurationConflict", f"no {kind} configuration {escape(token or '')!r} here")


def _profile(ctx: OnvifContext, token: str | None) -> tuple[str, ClientProfile | None]:
    if (token or "") not in ctx.camera.feeds and (token or "") not in ctx.profiles:
        raise invalid_arg("NoProfile", f"no profile {escape(token or '')!r}")
    return token or "", ctx.profiles.get(token or "")


def create_profile(ctx: OnvifContext, op: Element) -> str:
    """A new profile (Name), with the configurations given; its token is profile_<n>."""
    name = text(op, "Name") or ""
    if not name or len(name) > 64:
        raise invalid_arg("InvalidArgs", "Name is required (at most 64 characters)")
    refs = _refs(op)
    if len(ctx.profiles) >= MAX_CLIENT_PROFILES:
        raise _action("MaxProfiles", f"at most {MAX_CLIENT_PROFILES} profiles besides the fixed ones")
    token = next(t for t in (f"profile_{n}" for n in range(1, 2 * MAX_CLIENT_PROFILES + 2))
                 if t not in ctx.profiles and t not in ctx.camera.feeds)
    created = ClientProfile(name)
    for kind, ref in refs:
        _add(ctx, token, created, kind, ref)
    ctx.profiles[token] = created
    return f"<tr2:CreateProfileResponse><tr2:Token>{token}</tr2:Token></tr2:CreateProfileResponse>"


def delete_profile(ctx: OnvifContext, op: Element) -> str:
    """Forget a created profile; the fixed ones stay (ter:DeletionOfFixedProfile)."""
    token, created = _profile(ctx, text(op, "Token"))
    if created is None:
        raise _action("DeletionOfFixedProfile", f"profile {token} is fixed")
    del ctx.profiles[token]
    return "<tr2:DeleteProfileResponse/>"


def add_configuration(ctx: OnvifContext, op: Element) -> str:
    """Add configurations (and optionally rename) a profile."""
    token, created = _profile(ctx, text(op, "ProfileToken"))
    refs = _refs(op)
    name = text(op, "Name")
    if name is not None and (not name or len(name) > 64):
        raise invalid_arg("InvalidArgs", "a profile name is 1 to 64 characters")
    for kind, ref in refs:
        _add(ctx, token, created, kind, ref)
    if created is not None and name:
        created.name = name
    return "<tr2:AddConfigurationResponse/>"


def remove_configuration(ctx: OnvifContext, op: Element) -> str:
    """Take configurations out of a created profile; a fixed profile keeps its own."""
    token, created = _profile(ctx, text(op, "ProfileToken"))
    refs = _refs(op)
    if created is None:
        raise _action("ConfigurationConflict", f"profile {token} is fixed: its configurations stay")
    for kind, _ in refs:
        if kind == "VideoSource":
            created.source = False
        elif kind == "VideoEncoder":
            created.encoder = None
        elif kind == "All":
            created.source, created.encoder = False, None
    return "<tr2:RemoveConfigurationResponse/>"


MEDIA2_EDIT_OPS: dict[str, Handler] = {
    "SetVideoEncoderConfiguration": set_video_encoder_configuration,
    "GetVideoEncoderConfigurationOptions": get_video_encoder_configuration_options,
    "CreateProfile": create_profile, "DeleteProfile": delete_profile,
    "AddConfiguration": add_configuration, "RemoveConfiguration": remove_configuration,
}
