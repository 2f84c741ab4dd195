"""ONVIF PTZ (moves, status, presets) and events (pull-point subscriptions) operations.

Motion and tamper alarms come from the scene's ground truth at the camera's loop phase, so an
analytics test can compare what the camera said with what the picture showed.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from vms_camsim.camera import CameraRuntime
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


def _ptz(ctx: OnvifContext, op: Element) -> PtzState:
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
    ptz = _ptz(ctx, op)
    velocity = _vector(child(op, "Velocity"), (0.0, 0.0, 0.0))
    timeout = parse_duration(text(op, "Timeout"), 0.0) or None
    ptz.continuous(velocity, timeout)
    return "<tptz:ContinuousMoveResponse/>"


def relative_move(ctx: OnvifContext, op: Element) -> str:
    """Move by a translation at an optional speed."""
    ptz = _ptz(ctx, op)
    ptz.relative(_vector(child(op, "Translation"), (0.0, 0.0, 0.0)), _speed(op))
    return "<tptz:RelativeMoveResponse/>"


def _speed(op: Element) -> Vector | None:
    elem = child(op, "Speed")
    return None if elem is None else _vector(elem, (1.0, 1.0, 1.0))


def _check_limits(ptz: PtzState, target: Vector) -> None:
    if ptz.clamp(target) != target:
        raise invalid_arg("InvalidPosition", f"position {target} is outside the limits")


def absolute_move(ctx: OnvifContext, op: Element) -> str:
    """Travel to an absolute position (rejected outside the limits, as cameras do)."""
    ptz = _ptz(ctx, op)
    target = _vector(child(op, "Position"), ptz.position())
    _check_limits(ptz, target)
    ptz.absolute(target, _speed(op))
    return "<tptz:AbsoluteMoveResponse/>"


def stop(ctx: OnvifContext, op: Element) -> str:
    """Stop pan/tilt and/or zoom (both when not specified)."""
    ptz = _ptz(ctx, op)
    ptz.stop(text(op, "PanTilt") != "false", text(op, "Zoom") != "false")
    return "<tptz:StopResponse/>"


def _position_xml(pos: Vector) -> str:
    return (f'<tt:PanTilt x="{pos[0]:.4f}" y="{pos[1]:.4f}" space="{_SPACE}/PanTiltSpaces/PositionGenericSpace"/>'
            f'<tt:Zoom x="{pos[2]:.4f}" space="{_SPACE}/ZoomSpaces/PositionGenericSpace"/>')


def get_status(ctx: OnvifContext, op: Element) -> str:
    """Current position and whether each axis is moving."""
    ptz = _ptz(ctx, op)
    now = time.time()
    pan_tilt, zoom = ptz.moving(now)
    state = {True: "MOVING", False: "IDLE"}
    return (f"<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position>{_position_xml(ptz.position(now))}"
            f"</tt:Position><tt:MoveStatus><tt:PanTilt>{state[pan_tilt]}</tt:PanTilt>"
            f"<tt:Zoom>{state[zoom]}</tt:Zoom></tt:MoveStatus><tt:UtcTime>{utc_now_iso()}</tt:UtcTime>"
            "</tptz:PTZStatus></tptz:GetStatusResponse>")


def get_presets(ctx: OnvifContext, op: Element) -> str:
    """All stored presets."""
    ptz = _ptz(ctx, op)
    items = "".join(f'<tptz:Preset token="{escape(p.token)}"><tt:Name>{escape(p.name)}</tt:Name>'
                    f"<tt:PTZPosition>{_position_xml(p.position)}</tt:PTZPosition></tptz:Preset>"
                    for p in ptz.presets.values())
    return f"<tptz:GetPresetsResponse>{items}</tptz:GetPresetsResponse>"


def set_preset(ctx: OnvifContext, op: Element) -> str:
    """Store the current position (new token, or overwrite the given one)."""
    ptz = _ptz(ctx, op)
    token = text(op, "PresetToken")
    if token is not None and token not in ptz.presets:
        raise invalid_arg("NoToken", f"no preset {token!r}")
    if len(ptz.presets) >= 100 and token is None:
        raise SoapFault("Receiver", ("ter:Action", "ter:TooManyPresets"), "preset table full", 500)
    token = ptz.set_preset(text(op, "PresetName"), token)
    return f"<tptz:SetPresetResponse><tptz:PresetToken>{escape(token)}</tptz:PresetToken></tptz:SetPresetResponse>"


def goto_preset(ctx: OnvifContext, op: Element) -> str:
    """Travel to a stored preset."""
    ptz = _ptz(ctx, op)
    preset = ptz.presets.get(text(op, "PresetToken") or "")
    if preset is None:
        raise invalid_arg("NoToken", "no such preset")
    ptz.absolute(preset.position, _speed(op))
    return "<tptz:GotoPresetResponse/>"


def remove_preset(ctx: OnvifContext, op: Element) -> str:
    """Forget a stored preset."""
    ptz = _ptz(ctx, op)
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
    "GetConfigurationOptions": ptz_nodes.get_configuration_options,
}

# --- events -------------------------------------------------------------------------------------

_SAMPLE_S = 0.1
_MAX_PULL_WAIT_S = 10.0


@dataclass
class Notification:
    """One ONVIF event message."""

    topic: str
    utc: str
    operation: str
    source: tuple[str, str]
    data: tuple[str, str]


@dataclass
class Subscription:
    """A pull point: tracks the scene state it last reported and when it expires."""

    camera: CameraRuntime
    expires: float
    sid: str = field(default_factory=lambda: secrets.token_hex(8))
    checked: float = 0.0
    motion: bool | None = None
    tamper: bool | None = None

    def collect(self, now: float) -> list[Notification]:
        """Messages for state changes since the last call (the first call reports the current state)."""
        out: list[Notification] = []
        start = self.checked or now
        steps = max(1, int((now - start) / _SAMPLE_S))
        for i in range(1, steps + 1):
            t = start + (now - start) * i / steps
            phase = self.camera.phase(t)
            motion = self.camera.scene.motion_at(phase)
            tamper = self.camera.scene.tamper_at(phase) is not None
            op = "Initialized" if self.motion is None else "Changed"
            if motion != self.motion:
                out.append(Notification("tns1:VideoSource/MotionAlarm", utc_now_iso(), op,
                                        ("Source", "vsrc0"), ("State", str(motion).lower())))
                self.motion = motion
            if tamper != self.tamper:
                out.append(Notification("tns1:VideoSource/GlobalSceneChange/ImagingService", utc_now_iso(),
                                        op, ("Source", "vsrc0"), ("State", str(tamper).lower())))
                self.tamper = tamper
        self.checked = now
        return out


def _notification_xml(n: Notification) -> str:
    return ('<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/'
            f'ConcreteSet">{n.topic}</wsnt:Topic><wsnt:Message>'
            f'<tt:Message UtcTime="{n.utc}" PropertyOperation="{n.operation}">'
            f'<tt:Source><tt:SimpleItem Name="{n.source[0]}" Value="{n.source[1]}"/></tt:Source>'
            f'<tt:Data><tt:SimpleItem Name="{n.data[0]}" Value="{n.data[1]}"/></tt:Data>'
            "</tt:Message></wsnt:Message></wsnt:NotificationMessage>")


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class EventService:
    """Pull-point subscriptions of one camera."""

    def __init__(self, camera: CameraRuntime) -> None:
        self.camera = camera
        self.subscriptions: dict[str, Subscription] = {}

    def _expire(self) -> None:
        now = time.time()
        for sid in [s for s, sub in self.subscriptions.items() if sub.expires < now]:
            del self.subscriptions[sid]

    def create(self, ctx: OnvifContext, op: Element) -> str:
        """CreatePullPointSubscription: a new pull point at /onvif/subscription/<id>."""
        self._expire()
        if len(self.subscriptions) >= 64:
            raise SoapFault("Receiver", ("ter:Action", "ter:MaxPullPoints"), "too many subscriptions", 500)
        ttl = min(parse_duration(text(op, "InitialTerminationTime"), 60.0), 3600.0)
        sub = Subscription(self.camera, time.time() + max(ttl, 10.0))
        self.subscriptions[sub.sid] = sub
        address = f"{ctx.base_url}/onvif/subscription/{sub.sid}"
        return ("<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>"
                f"<wsa:Address>{address}</wsa:Address></tev:SubscriptionReference>"
                f"<wsnt:CurrentTime>{_iso(time.time())}</wsnt:CurrentTime>"
                f"<wsnt:TerminationTime>{_iso(sub.expires)}</wsnt:TerminationTime>"
                "</tev:CreatePullPointSubscriptionResponse>")

    def get(self, sid: str) -> Subscription:
        """A live subscription. Raises the fault a pull on an unknown or expired one earns."""
        self._expire()
        sub = self.subscriptions.get(sid)
        if sub is None:
            raise SoapFault("Sender", ("ter:InvalidArgVal", "ter:ResourceUnknown"), "no such subscription")
        return sub

    async def pull(self, sub: Subscription, op: Element) -> str:
        """PullMessages: long-poll up to Timeout for scene state changes."""
        wait = min(parse_duration(text(op, "Timeout"), 5.0), _MAX_PULL_WAIT_S)
        limit = int(_float(text(op, "MessageLimit"), 100))
        deadline = time.time() + wait
        messages = sub.collect(time.time())
        while not messages and time.time() < deadline:
            await asyncio.sleep(_SAMPLE_S)
            messages = sub.collect(time.time())
        body = "".join(_notification_xml(n) for n in messages[: max(1, limit)])
        return (f"<tev:PullMessagesResponse><tev:CurrentTime>{_iso(time.time())}</tev:CurrentTime>"
                f"<tev:TerminationTime>{_iso(sub.expires)}</tev:TerminationTime>{body}"
                "</tev:PullMessagesResponse>")

    def renew(self, sub: Subscription, op: Element) -> str:
        """Renew: extend the termination time."""
        sub.expires = time.time() + max(10.0, min(parse_duration(text(op, "TerminationTime"), 60.0), 3600.0))
        return (f"<wsnt:RenewResponse><wsnt:TerminationTime>{_iso(sub.expires)}</wsnt:TerminationTime>"
                f"<wsnt:CurrentTime>{_iso(time.time())}</wsnt:CurrentTime></wsnt:RenewResponse>")

    def unsubscribe(self, sub: Subscription) -> str:
        """Unsubscribe: forget the pull point."""
        self.subscriptions.pop(sub.sid, None)
        return "<wsnt:UnsubscribeResponse/>"

    def properties(self, ctx: OnvifContext, op: Element) -> str:
        """GetEventProperties: the two topics this camera raises."""
        return ("<tev:GetEventPropertiesResponse>"
                "<tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml"
                "</tev:TopicNamespaceLocation><wsnt:FixedTopicSet>true</wsnt:FixedTopicSet>"
                "<wstop:TopicSet xmlns:wstop=\"http://docs.oasis-open.org/wsn/t-1\"><tns1:VideoSource>"
                "<MotionAlarm wstop:topic=\"true\"/><GlobalSceneChange><ImagingService wstop:topic=\"true\"/>"
                "</GlobalSceneChange></tns1:VideoSource></wstop:TopicSet>"
                "<wsnt:TopicExpressionDialect>http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"
                "</wsnt:TopicExpressionDialect></tev:GetEventPropertiesResponse>")
