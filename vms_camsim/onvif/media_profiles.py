"""Media (ver10) profile management: CreateProfile, DeleteProfile and adding or removing the video
source and encoder configurations of a profile.

The fixed profiles (one per stream of the fleet file) keep their configurations: adding their own is
accepted, another or a removal is ter:ConfigurationConflict, and deleting them is
ter:DeletionOfFixedProfile. A client may create up to MAX_CLIENT_PROFILES more; such a profile plays
the stream of the encoder configuration added to it (vec_main, vec_sub), so it streams as soon as it
has one. A factory default or a restart forgets them.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from vms_camsim.onvif.device_media import ClientProfile, Handler, OnvifContext, client_profile_xml
from vms_camsim.onvif.soap import SoapFault, invalid_arg, text

MAX_CLIENT_PROFILES = 8
_TOKEN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _action(subcode: str, reason: str) -> SoapFault:
    return SoapFault("Receiver", ("ter:Action", f"ter:{subcode}"), reason, 500)


def _profile(ctx: OnvifContext, op: Element) -> tuple[str, ClientProfile | None]:
    """The profile token and, for a created profile, its record. Raises ter:NoProfile."""
    token = text(op, "ProfileToken") or ""
    if token not in ctx.camera.feeds and token not in ctx.profiles:
        raise invalid_arg("NoProfile", f"no profile {token!r}")
    return token, ctx.profiles.get(token)


def create_profile(ctx: OnvifContext, op: Element) -> str:
    """An empty profile (optional Token; else profile_<n>). Raises ter:ProfileExists, ter:MaxNVTProfiles."""
    name = text(op, "Name") or ""
    if not name or len(name) > 64:
        raise invalid_arg("InvalidArgs", "Name is required (at most 64 characters)")
    token = text(op, "Token")
    if token is not None and not _TOKEN.match(token):
        raise invalid_arg("InvalidArgs", "a profile token is 1 to 64 letters, digits, '_', '.' or '-'")
    if token in ctx.camera.feeds or token in ctx.profiles:
        raise invalid_arg("ProfileExists", f"profile {token} exists")
    if len(ctx.profiles) >= MAX_CLIENT_PROFILES:
        raise _action("MaxNVTProfiles", f"at most {MAX_CLIENT_PROFILES} profiles besides the fixed ones")
    if token is None:
        free = (f"profile_{n}" for n in range(1, 2 * MAX_CLIENT_PROFILES + 2))
        token = next(t for t in free if t not in ctx.profiles)
    ctx.profiles[token] = ClientProfile(name)
    return f"<trt:CreateProfileResponse>{client_profile_xml(ctx, token, 'trt:Profile')}</trt:CreateProfileResponse>"


def delete_profile(ctx: OnvifContext, op: Element) -> str:
    """Forget a created profile; the fixed ones stay (ter:DeletionOfFixedProfile)."""
    token, created = _profile(ctx, op)
    if created is None:
        raise _action("DeletionOfFixedProfile", f"profile {token} is fixed")
    del ctx.profiles[token]
    return "<trt:DeleteProfileResponse/>"


def add_video_encoder_configuration(ctx: OnvifContext, op: Element) -> str:
    """A created profile takes any encoder configuration (and plays its stream); a fixed one only its own."""
    profile, created = _profile(ctx, op)
    config = text(op, "ConfigurationToken") or ""
    encoder = config.removeprefix("vec_")
    if config != f"vec_{encoder}" or encoder not in ctx.camera.feeds:
        raise invalid_arg("NoConfig", f"no video encoder configuration {config!r}")
    if created is not None:
        created.encoder = encoder
    elif encoder != profile:
        raise _action("ConfigurationConflict", f"profile {profile} is fixed to vec_{profile}")
    return "<trt:AddVideoEncoderConfigurationResponse/>"


def add_video_source_configuration(ctx: OnvifContext, op: Element) -> str:
    """The one source configuration, vsc0 (fixed profiles already have it)."""
    _, created = _profile(ctx, op)
    config = text(op, "ConfigurationToken")
    if config != "vsc0":
        raise invalid_arg("NoConfig", f"no video source configuration {escape(config or '')!r}")
    if created is not None:
        created.source = True
    return "<trt:AddVideoSourceConfigurationResponse/>"


def _remover(kind: str) -> Handler:
    def remove(ctx: OnvifContext, op: Element) -> str:
        profile, created = _profile(ctx, op)
        if created is None:
            raise _action("ConfigurationConflict", f"profile {profile} is fixed: its configurations stay")
        if kind == "Encoder":
            created.encoder = None
        else:
            created.source = False
        return f"<trt:RemoveVideo{kind}ConfigurationResponse/>"

    remove.__doc__ = f"Take the video {kind.lower()} configuration out of a created profile."
    return remove


MEDIA_PROFILE_OPS: dict[str, Handler] = {
    "CreateProfile": create_profile, "DeleteProfile": delete_profile,
    "AddVideoEncoderConfiguration": add_video_encoder_configuration,
    "AddVideoSourceConfiguration": add_video_source_configuration,
    "RemoveVideoEncoderConfiguration": _remover("Encoder"), "RemoveVideoSourceConfiguration": _remover("Source"),
}
