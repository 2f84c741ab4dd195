"""ONVIF PTZ operations: moves, status and presets (nodes and configurations are in ptz_nodes)."""

from __future__ import annotations

import time
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from vms_camsim.onvif import ptz_nodes
from vms_camsim.onvif.device_media import Handler, OnvifContext
from vms_camsim.onvif.soap import (
    SoapFault,
    child,
    invalid_arg,
    parse_duration,
    text,
    utc_now_iso,
)
from vms_camsim.ptz import PtzState, Vector

_SPACE = "http://www.onvif.org/ver10/tptz"


def ptz_of(ctx: OnvifContext, op: Element) -> PtzState:
    if ctx.camera.ptz is None:
        raise SoapFault("Receiver", ("ter:ActionNotSupported", "ter:PTZNotSupported"), "not a PTZ camera", 500)
    ctx.stream(text(op, "ProfileToken"))
    return ctx.camera.ptz


def _float(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        raise invalid_arg("InvalidPosition", f"not a number: {value!r}") from None


def _vector(elem: Element | None, default: Vector) -> Vector:
    """Read <PanTilt x= y=/><Zoom x=/> into (pan, tilt, zoom), keeping defaults for missing axes."""
    pan_tilt, zoom = child(elem, "PanTilt"), child(elem, "Zoom")
    pan = _float(pan_tilt.get("x") if pan_tilt is not None else None, default[0])
    tilt = _float(pan_tilt.get("y") if pan_tilt is not None else None, default[1])
    return pan, tilt, _float(zoom.get("x") if zoom is not None else None, default[2])


def continuous_move(ctx: OnvifContext, op: Element) -> str:
    """Move at the given velocity until Stop or the optional Timeout."""
    ptz = ptz_of(ctx, op)
    velocity = _vector(child(op, "Velocity"), (0.0, 0.0, 0.0))
    timeout = parse_duration(text(op, "Timeout"), 0.0) or None
    ptz.continuous(velocity, timeout)
    return "<tptz:ContinuousMoveResponse/>"


def relative_move(ctx: OnvifContext, op: Element) -> str:
    """Move by a translation at an optional speed."""
    ptz = ptz_of(ctx, op)
    ptz.relative(_vector(child(op, "Translation"), (0.0, 0.0, 0.0)), speed_of(op))
    return "<tptz:RelativeMoveResponse/>"


def speed_of(op: Element) -> Vector | None:
    elem = child(op, "Speed")
    return None if elem is None else _vector(elem, (1.0, 1.0, 1.0))


def _check_limits(ptz: PtzState, target: Vector) -> None:
    if ptz.clamp(target) != target:
        raise invalid_arg("InvalidPosition", f"position {target} is outside the limits")


def absolute_move(ctx: OnvifContext, op: Element) -> str:
    """Travel to an absolute position (rejected outside the limits, as cameras do)."""
    ptz = ptz_of(ctx, op)
    target = _vector(child(op, "Position"), ptz.position())
    _check_limits(ptz, target)
    ptz.absolute(target, speed_of(op))
    return "<tptz:AbsoluteMoveResponse/>"


def stop(ctx: OnvifContext, op: Element) -> str:
    """Stop pan/tilt and/or zoom (both when not specified)."""
    ptz = ptz_of(ctx, op)
    ptz.stop(text(op, "PanTilt") != "false", text(op, "Zoom") != "false")
    return "<tptz:StopResponse/>"


def _position_xml(pos: Vector) -> str:
    return (f'<tt:PanTilt x="{pos[0]:.4f}" y="{pos[1]:.4f}" space="{_SPACE}/PanTiltSpaces/PositionGenericSpace"/>'
            f'<tt:Zoom x="{pos[2]:.4f}" space="{_SPACE}/ZoomSpaces/PositionGenericSpace"/>')


def get_status(ctx: OnvifContext, op: Element) -> str:
    """Current position and whether each axis is moving."""
    ptz = ptz_of(ctx, op)
    now = time.time()
    pan_tilt, zoom = ptz.moving(now)
    state = {True: "MOVING", False: "IDLE"}
    return (f"<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position>{_position_xml(ptz.position(now))}"
            f"</tt:Position><tt:MoveStatus><tt:PanTilt>{state[pan_tilt]}</tt:PanTilt>"
            f"<tt:Zoom>{state[zoom]}</tt:Zoom></tt:MoveStatus><tt:UtcTime>{utc_now_iso()}</tt:UtcTime>"
            "</tptz:PTZStatus></tptz:GetStatusResponse>")


def get_presets(ctx: OnvifContext, op: Element) -> str:
    """All stored presets."""
    ptz = ptz_of(ctx, op)
    items = "".join(f'<tptz:Preset token="{escape(p.token)}"><tt:Name>{escape(p.name)}</tt:Name>'
                    f"<tt:PTZPosition>{_position_xml(p.position)}</tt:PTZPosition></tptz:Preset>"
                    for p in ptz.presets.values())
    return f"<tptz:GetPresetsResponse>{items}</tptz:GetPresetsResponse>"


def set_preset(ctx: OnvifContext, op: Element) -> str:
    """Store the current position (new token, or overwrite the given one)."""
    ptz = ptz_of(ctx, op)
    token = text(op, "PresetToken")
    if token is not None and token not in ptz.presets:
        raise invalid_arg("NoToken", f"no preset {token!r}")
    if len(ptz.presets) >= 100 and token is None:
        raise SoapFault("Receiver", ("ter:Action", "ter:TooManyPresets"), "preset table full", 500)
    token = ptz.set_preset(text(op, "PresetName"), token)
    return f"<tptz:SetPresetResponse><tptz:PresetToken>{escape(token)}</tptz:PresetToken></tptz:SetPresetResponse>"


def goto_preset(ctx: OnvifContext, op: Element) -> str:
    """Travel to a stored preset."""
    ptz = ptz_of(ctx, op)
    preset = ptz.presets.get(text(op, "PresetToken") or "")
    if preset is None:
        raise invalid_arg("NoToken", "no such preset")
    ptz.absolute(preset.position, speed_of(op))
    return "<tptz:GotoPresetResponse/>"


def remove_preset(ctx: OnvifContext, op: Element) -> str:
    """Forget a stored preset."""
    ptz = ptz_of(ctx, op)
    if ptz.presets.pop(text(op, "PresetToken") or "", None) is None:
        raise invalid_arg("NoToken", "no such preset")
    return "<tptz:RemovePresetResponse/>"


PTZ_OPS: dict[str, Handler] = {
    "ContinuousMove": continuous_move, "RelativeMove": relative_move, "AbsoluteMove": absolute_move,
    "Stop": stop, "GetStatus": get_status, "GetPresets": get_presets, "SetPreset": set_preset,
    "GotoPreset": goto_preset, "RemovePreset": remove_preset,
    "GetServiceCapabilities": ptz_nodes.get_service_capabilities, "GetNodes": ptz_nodes.get_nodes,
    "GetNode": ptz_nodes.get_node, "GetConfigurations": ptz_nodes.get_configurations,
    "GetConfiguration": ptz_nodes.get_configuration,
    "GetCompatibleConfigurations": ptz_nodes.get_compatible_configurations,
    "GetConfigurationOptions": ptz_nodes.get_configuration_options, "SetConfiguration": ptz_nodes.set_configuration,
}
