"""ONVIF imaging service (ver20): brightness, IR cut filter and a motorised focus.

Settings are kept per camera and read back as set; the picture does not change with them (looped
streams are shared between cameras). Focus moves like the PTZ head does: integrated from the
commanded speed, so GetStatus reports MOVING while it travels and the position where it stopped.
Element order follows the ONVIF schema (tt:ImagingSettings20, tt:ImagingOptions20).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

from vms_camsim.onvif.soap import SoapFault, child, invalid_arg, local, text

if TYPE_CHECKING:
    from vms_camsim.onvif.device_media import Handler, OnvifContext

SOURCE_TOKEN = "vsrc0"
IR_CUT_MODES = ("ON", "OFF", "AUTO")
FOCUS_MODES = ("AUTO", "MANUAL")
_FOCUS_FULL_SPEED = 0.5  # focus range (0..1) per second at speed 1


@dataclass
class Focus:
    """A focus motor on 0 (near) .. 1 (far): from ``origin`` at ``t0`` at ``speed`` until ``until``."""

    origin: float = 0.5
    t0: float = field(default_factory=time.time)
    speed: float = 0.0
    until: float | None = None

    def position(self, now: float) -> float:
        """Where the focus is at ``now``."""
        end = now if self.until is None else min(now, self.until)
        return min(1.0, max(0.0, self.origin + self.speed * max(0.0, end - self.t0)))

    def moving(self, now: float) -> bool:
        """True while the motor turns (not stopped, not at its goal or an end stop)."""
        if self.speed == 0.0 or (self.until is not None and now >= self.until):
            return False
        return 0.0 < self.position(now) < 1.0

    def move(self, now: float, speed: float, goal: float | None = None) -> None:
        """Turn at ``speed`` (fraction of full speed, signed) forever, or to ``goal``."""
        self.origin, self.t0 = self.position(now), now
        rate = max(-1.0, min(1.0, speed)) * _FOCUS_FULL_SPEED
        if goal is None:
            self.speed, self.until = rate, None
            return
        goal = min(1.0, max(0.0, goal))
        rate = abs(rate) or _FOCUS_FULL_SPEED
        self.speed = rate if goal > self.origin else -rate
        self.until = now + abs(goal - self.origin) / rate

    def stop(self, now: float) -> None:
        """Stop where it is."""
        self.origin, self.t0, self.speed, self.until = self.position(now), now, 0.0, None


@dataclass
class ImagingState:
    """One camera's imaging settings."""

    brightness: float = 50.0
    ir_cut: str = "AUTO"
    focus_mode: str = "MANUAL"
    focus: Focus = field(default_factory=Focus)


def _source(op: Element) -> None:
    token = text(op, "VideoSourceToken")
    if token != SOURCE_TOKEN:
        raise invalid_arg("NoSource", f"no video source {token!r}")


def _number(value: str | None, what: str, low: float, high: float) -> float:
    try:
        number = float(value or "")
    except ValueError:
        raise invalid_arg("SettingsInvalid", f"{what} is not a number: {value!r}") from None
    if not low <= number <= high:
        raise invalid_arg("SettingsInvalid", f"{what} {number} is outside {low}..{high}")
    return number


def get_service_capabilities(ctx: OnvifContext, op: Element) -> str:
    """No image stabilisation and no imaging presets."""
    return ('<timg:GetServiceCapabilitiesResponse><timg:Capabilities ImageStabilization="false" '
            'Presets="false" AdaptablePreset="false"/></timg:GetServiceCapabilitiesResponse>')


def get_imaging_settings(ctx: OnvifContext, op: Element) -> str:
    """Brightness, focus mode and IR cut filter as last set."""
    _source(op)
    state = ctx.imaging
    return ("<timg:GetImagingSettingsResponse><timg:ImagingSettings>"
            f"<tt:Brightness>{state.brightness:g}</tt:Brightness>"
            f"<tt:Focus><tt:AutoFocusMode>{state.focus_mode}</tt:AutoFocusMode>"
            "<tt:DefaultSpeed>1</tt:DefaultSpeed></tt:Focus>"
            f"<tt:IrCutFilter>{state.ir_cut}</tt:IrCutFilter>"
            "</timg:ImagingSettings></timg:GetImagingSettingsResponse>")


def set_imaging_settings(ctx: OnvifContext, op: Element) -> str:
    """Apply brightness (0..100), IR cut filter and focus mode; anything else is SettingsInvalid.
    Nothing changes unless every setting is valid."""
    _source(op)
    settings = child(op, "ImagingSettings")
    state = ctx.imaging
    brightness, ir_cut, focus_mode = state.brightness, state.ir_cut, state.focus_mode
    for item in settings if settings is not None else ():
        name = local(item.tag)
        if name == "Brightness":
            brightness = _number(item.text, "Brightness", 0.0, 100.0)
        elif name == "IrCutFilter":
            ir_cut = (item.text or "").strip()
            if ir_cut not in IR_CUT_MODES:
                raise invalid_arg("SettingsInvalid", f"IrCutFilter {ir_cut!r} is not one of {IR_CUT_MODES}")
        elif name == "Focus":
            focus_mode = text(item, "AutoFocusMode") or focus_mode
            if focus_mode not in FOCUS_MODES:
                raise invalid_arg("SettingsInvalid", f"AutoFocusMode {focus_mode!r} is not one of {FOCUS_MODES}")
        else:
            raise invalid_arg("SettingsInvalid", f"{name} cannot be set on this camera")
    state.brightness, state.ir_cut, state.focus_mode = brightness, ir_cut, focus_mode
    return "<timg:SetImagingSettingsResponse/>"


def get_options(ctx: OnvifContext, op: Element) -> str:
    """What SetImagingSettings accepts."""
    _source(op)
    modes = "".join(f"<tt:AutoFocusModes>{m}</tt:AutoFocusModes>" for m in FOCUS_MODES)
    ir_modes = "".join(f"<tt:IrCutFilterModes>{m}</tt:IrCutFilterModes>" for m in IR_CUT_MODES)
    return ("<timg:GetOptionsResponse><timg:ImagingOptions>"
            "<tt:Brightness><tt:Min>0</tt:Min><tt:Max>100</tt:Max></tt:Brightness>"
            f"<tt:Focus>{modes}<tt:DefaultSpeed><tt:Min>0</tt:Min><tt:Max>1</tt:Max></tt:DefaultSpeed></tt:Focus>"
            f"{ir_modes}</timg:ImagingOptions></timg:GetOptionsResponse>")


def get_move_options(ctx: OnvifContext, op: Element) -> str:
    """Absolute (0..1), relative (-1..1) and continuous (-1..1) focus moves."""
    _source(op)
    unit = "<tt:Speed><tt:Min>0</tt:Min><tt:Max>1</tt:Max></tt:Speed>"
    return ("<timg:GetMoveOptionsResponse><timg:MoveOptions>"
            f"<tt:Absolute><tt:Position><tt:Min>0</tt:Min><tt:Max>1</tt:Max></tt:Position>{unit}</tt:Absolute>"
            f"<tt:Relative><tt:Distance><tt:Min>-1</tt:Min><tt:Max>1</tt:Max></tt:Distance>{unit}</tt:Relative>"
            "<tt:Continuous><tt:Speed><tt:Min>-1</tt:Min><tt:Max>1</tt:Max></tt:Speed></tt:Continuous>"
            "</timg:MoveOptions></timg:GetMoveOptionsResponse>")


def move(ctx: OnvifContext, op: Element) -> str:
    """Focus move: Absolute (Position, Speed), Relative (Distance, Speed) or Continuous (Speed)."""
    _source(op)
    focus, now = ctx.imaging.focus, time.time()
    absolute, relative = child(op, "Focus", "Absolute"), child(op, "Focus", "Relative")
    continuous = child(op, "Focus", "Continuous")
    if absolute is not None:
        goal = _number(text(absolute, "Position"), "Position", 0.0, 1.0)
        focus.move(now, _number(text(absolute, "Speed") or "1", "Speed", 0.0, 1.0), goal)
    elif relative is not None:
        distance = _number(text(relative, "Distance"), "Distance", -1.0, 1.0)
        focus.move(now, _number(text(relative, "Speed") or "1", "Speed", 0.0, 1.0),
                   focus.position(now) + distance)
    elif continuous is not None:
        focus.move(now, _number(text(continuous, "Speed"), "Speed", -1.0, 1.0))
    else:
        raise SoapFault("Sender", ("ter:InvalidArgVal", "ter:NoImagingForSource"), "no focus move given")
    return "<timg:MoveResponse/>"


def stop(ctx: OnvifContext, op: Element) -> str:
    """Stop the focus motor."""
    _source(op)
    ctx.imaging.focus.stop(time.time())
    return "<timg:StopResponse/>"


def get_status(ctx: OnvifContext, op: Element) -> str:
    """Focus position and whether it moves."""
    _source(op)
    focus, now = ctx.imaging.focus, time.time()
    state = "MOVING" if focus.moving(now) else "IDLE"
    return ("<timg:GetStatusResponse><timg:Status><tt:FocusStatus20>"
            f"<tt:Position>{focus.position(now):.4f}</tt:Position><tt:MoveStatus>{state}</tt:MoveStatus>"
            "</tt:FocusStatus20></timg:Status></timg:GetStatusResponse>")


IMAGING_OPS: dict[str, Handler] = {
    "GetServiceCapabilities": get_service_capabilities, "GetImagingSettings": get_imaging_settings,
    "SetImagingSettings": set_imaging_settings, "GetOptions": get_options, "GetMoveOptions": get_move_options,
    "Move": move, "Stop": stop, "GetStatus": get_status,
}
