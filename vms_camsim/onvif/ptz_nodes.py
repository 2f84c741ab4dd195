"""ONVIF PTZ node, configuration and options: what a client reads before it moves the head.

A VMS takes the ranges of the node's spaces and the configuration's limits to scale joystick
speeds and to keep absolute moves inside what the head accepts, so they are built from the same
``ptz_limits`` that ``PtzState.clamp`` enforces: what the camera says is what it does.
Element order follows the ONVIF schema (tt:PTZNode, tt:PTZConfiguration, tt:PTZSpaces), because
zeep parses sequences in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

from vms_camsim.config import PtzLimits
from vms_camsim.onvif.ptz_aux import auxiliary_commands_xml
from vms_camsim.onvif.soap import SoapFault, child, invalid_arg, parse_duration, text

if TYPE_CHECKING:
    from vms_camsim.onvif.device_media import OnvifContext

SPACE = "http://www.onvif.org/ver10/tptz"
PT_POSITION = f"{SPACE}/PanTiltSpaces/PositionGenericSpace"
ZOOM_POSITION = f"{SPACE}/ZoomSpaces/PositionGenericSpace"
PT_TRANSLATION = f"{SPACE}/PanTiltSpaces/TranslationGenericSpace"
ZOOM_TRANSLATION = f"{SPACE}/ZoomSpaces/TranslationGenericSpace"
PT_VELOCITY = f"{SPACE}/PanTiltSpaces/VelocityGenericSpace"
ZOOM_VELOCITY = f"{SPACE}/ZoomSpaces/VelocityGenericSpace"
PT_SPEED = f"{SPACE}/PanTiltSpaces/GenericSpeedSpace"
ZOOM_SPEED = f"{SPACE}/ZoomSpaces/ZoomGenericSpeedSpace"
NODE_TOKEN = "node0"
CONFIG_TOKEN = "ptz0"
MAX_PRESETS = 100
TIMEOUT_RANGE_S = (1.0, 60.0)


def _range(tag: str, low: float, high: float) -> str:
    return f"<tt:{tag}><tt:Min>{low:g}</tt:Min><tt:Max>{high:g}</tt:Max></tt:{tag}>"


def _space_2d(tag: str, uri: str, x: tuple[float, float], y: tuple[float, float]) -> str:
    return f"<tt:{tag}><tt:URI>{uri}</tt:URI>{_range('XRange', *x)}{_range('YRange', *y)}</tt:{tag}>"


def _space_1d(tag: str, uri: str, x: tuple[float, float]) -> str:
    return f"<tt:{tag}><tt:URI>{uri}</tt:URI>{_range('XRange', *x)}</tt:{tag}>"


def spaces_xml(tag: str, lim: PtzLimits) -> str:
    """A tt:PTZSpaces element: absolute positions within the limits; relative, continuous and speed
    spaces in their generic ranges (a relative or continuous move stops at the limits)."""
    return (f"<{tag}>"
            + _space_2d("AbsolutePanTiltPositionSpace", PT_POSITION, (lim.pan_min, lim.pan_max),
                        (lim.tilt_min, lim.tilt_max))
            + _space_1d("AbsoluteZoomPositionSpace", ZOOM_POSITION, (lim.zoom_min, lim.zoom_max))
            + _space_2d("RelativePanTiltTranslationSpace", PT_TRANSLATION, (-1.0, 1.0), (-1.0, 1.0))
            + _space_1d("RelativeZoomTranslationSpace", ZOOM_TRANSLATION, (-1.0, 1.0))
            + _space_2d("ContinuousPanTiltVelocitySpace", PT_VELOCITY, (-1.0, 1.0), (-1.0, 1.0))
            + _space_1d("ContinuousZoomVelocitySpace", ZOOM_VELOCITY, (-1.0, 1.0))
            + _space_1d("PanTiltSpeedSpace", PT_SPEED, (0.0, 1.0))
            + _space_1d("ZoomSpeedSpace", ZOOM_SPEED, (0.0, 1.0))
            + f"</{tag}>")


def node_xml(tag: str, lim: PtzLimits) -> str:
    """The single PTZ node (tt:PTZNode) under the element name ``tag``."""
    return (f'<{tag} token="{NODE_TOKEN}" FixedHomePosition="false"><tt:Name>{NODE_TOKEN}</tt:Name>'
            f"{spaces_xml('tt:SupportedPTZSpaces', lim)}"
            f"<tt:MaximumNumberOfPresets>{MAX_PRESETS}</tt:MaximumNumberOfPresets>"
            f"<tt:HomeSupported>true</tt:HomeSupported>{auxiliary_commands_xml()}</{tag}>")


def camera_configuration_xml(ctx: OnvifContext, tag: str) -> str:
    """The PTZ configuration of a PTZ camera, with its current default timeout."""
    ptz = ctx.camera.ptz
    return configuration_xml(tag, ctx.camera.config.ptz_limits, ptz.default_timeout_s if ptz else 5.0)


def configuration_xml(tag: str, lim: PtzLimits, timeout_s: float = 5.0) -> str:
    """The PTZ configuration (tt:PTZConfiguration) under the element name ``tag``."""
    pan_tilt = _space_2d("Range", PT_POSITION, (lim.pan_min, lim.pan_max), (lim.tilt_min, lim.tilt_max))
    zoom = _space_1d("Range", ZOOM_POSITION, (lim.zoom_min, lim.zoom_max))
    return (f'<{tag} token="{CONFIG_TOKEN}"><tt:Name>{CONFIG_TOKEN}</tt:Name><tt:UseCount>2</tt:UseCount>'
            f"<tt:NodeToken>{NODE_TOKEN}</tt:NodeToken>"
            f"<tt:DefaultAbsolutePantTiltPositionSpace>{PT_POSITION}</tt:DefaultAbsolutePantTiltPositionSpace>"
            f"<tt:DefaultAbsoluteZoomPositionSpace>{ZOOM_POSITION}</tt:DefaultAbsoluteZoomPositionSpace>"
            f"<tt:DefaultRelativePanTiltTranslationSpace>{PT_TRANSLATION}"
            "</tt:DefaultRelativePanTiltTranslationSpace>"
            f"<tt:DefaultRelativeZoomTranslationSpace>{ZOOM_TRANSLATION}</tt:DefaultRelativeZoomTranslationSpace>"
            f"<tt:DefaultContinuousPanTiltVelocitySpace>{PT_VELOCITY}</tt:DefaultContinuousPanTiltVelocitySpace>"
            f"<tt:DefaultContinuousZoomVelocitySpace>{ZOOM_VELOCITY}</tt:DefaultContinuousZoomVelocitySpace>"
            f'<tt:DefaultPTZSpeed><tt:PanTilt x="1" y="1" space="{PT_SPEED}"/>'
            f'<tt:Zoom x="1" space="{ZOOM_SPEED}"/></tt:DefaultPTZSpeed>'
            f"<tt:DefaultPTZTimeout>PT{timeout_s:g}S</tt:DefaultPTZTimeout>"
            f"<tt:PanTiltLimits>{pan_tilt}</tt:PanTiltLimits><tt:ZoomLimits>{zoom}</tt:ZoomLimits>"
            f"</{tag}>")


def _limits(ctx: OnvifContext) -> PtzLimits:
    if ctx.camera.ptz is None:
        raise SoapFault("Receiver", ("ter:ActionNotSupported", "ter:PTZNotSupported"), "not a PTZ camera", 500)
    return ctx.camera.config.ptz_limits


def _known(value: str | None, token: str, what: str) -> None:
    if value != token:
        raise invalid_arg("NoEntity", f"no {what} {value!r}")


def get_service_capabilities(ctx: OnvifContext, op: Element) -> str:
    """What the PTZ service supports beyond the basics: status with position and move state."""
    _limits(ctx)
    return ('<tptz:GetServiceCapabilitiesResponse><tptz:Capabilities EFlip="false" Reverse="false" '
            'GetCompatibleConfigurations="true" MoveStatus="true" StatusPosition="true"/>'
            "</tptz:GetServiceCapabilitiesResponse>")


def get_nodes(ctx: OnvifContext, op: Element) -> str:
    """The one PTZ node with its spaces."""
    return f"<tptz:GetNodesResponse>{node_xml('tptz:PTZNode', _limits(ctx))}</tptz:GetNodesResponse>"


def get_node(ctx: OnvifContext, op: Element) -> str:
    """A node by token. Raises ter:NoEntity for an unknown token."""
    lim = _limits(ctx)
    _known(text(op, "NodeToken"), NODE_TOKEN, "PTZ node")
    return f"<tptz:GetNodeResponse>{node_xml('tptz:PTZNode', lim)}</tptz:GetNodeResponse>"


def get_configurations(ctx: OnvifContext, op: Element) -> str:
    """The one PTZ configuration (used by every media profile)."""
    _limits(ctx)
    return (f"<tptz:GetConfigurationsResponse>{camera_configuration_xml(ctx, 'tptz:PTZConfiguration')}"
            "</tptz:GetConfigurationsResponse>")


def get_configuration(ctx: OnvifContext, op: Element) -> str:
    """A configuration by token. Raises ter:NoConfig for an unknown token."""
    _limits(ctx)
    token = text(op, "PTZConfigurationToken")
    if token != CONFIG_TOKEN:
        raise invalid_arg("NoConfig", f"no PTZ configuration {token!r}")
    return (f"<tptz:GetConfigurationResponse>{camera_configuration_xml(ctx, 'tptz:PTZConfiguration')}"
            "</tptz:GetConfigurationResponse>")


def get_compatible_configurations(ctx: OnvifContext, op: Element) -> str:
    """Configurations a profile may use: the one there is."""
    _limits(ctx)
    ctx.stream(text(op, "ProfileToken"))
    return (f"<tptz:GetCompatibleConfigurationsResponse>{camera_configuration_xml(ctx, 'tptz:PTZConfiguration')}"
            "</tptz:GetCompatibleConfigurationsResponse>")


def get_configuration_options(ctx: OnvifContext, op: Element) -> str:
    """Spaces and timeout range the configuration accepts. Raises ter:NoConfig for an unknown token."""
    lim = _limits(ctx)
    token = text(op, "ConfigurationToken")
    if token != CONFIG_TOKEN:
        raise invalid_arg("NoConfig", f"no PTZ configuration {token!r}")
    return ("<tptz:GetConfigurationOptionsResponse><tptz:PTZConfigurationOptions>"
            f"{spaces_xml('tt:Spaces', lim)}"
            f"<tt:PTZTimeout><tt:Min>PT{TIMEOUT_RANGE_S[0]:g}S</tt:Min><tt:Max>PT{TIMEOUT_RANGE_S[1]:g}S</tt:Max>"
            "</tt:PTZTimeout>"
            "</tptz:PTZConfigurationOptions></tptz:GetConfigurationOptionsResponse>")


def set_configuration(ctx: OnvifContext, op: Element) -> str:
    """Accept the configuration back with a new DefaultPTZTimeout (within GetConfigurationOptions' range).
    Node, spaces and limits are the camera's own: a change to them is ter:ConfigModify."""
    lim = _limits(ctx)
    config = child(op, "PTZConfiguration")
    token = config.get("token") if config is not None else None
    if token != CONFIG_TOKEN:
        raise invalid_arg("NoConfig", f"no PTZ configuration {token!r}")
    node = text(config, "NodeToken")
    if node not in (None, NODE_TOKEN):
        raise invalid_arg("ConfigModify", "the node cannot be changed")
    pan = child(config, "PanTiltLimits", "Range", "XRange")
    if pan is not None and (_num(text(pan, "Min")), _num(text(pan, "Max"))) != (lim.pan_min, lim.pan_max):
        raise invalid_arg("ConfigModify", "the pan/tilt limits are fixed by the simulator's configuration")
    timeout = text(config, "DefaultPTZTimeout")
    if timeout is not None:
        seconds = parse_duration(timeout, -1.0)
        if not TIMEOUT_RANGE_S[0] <= seconds <= TIMEOUT_RANGE_S[1]:
            raise invalid_arg("ConfigModify", f"DefaultPTZTimeout {timeout} is outside {TIMEOUT_RANGE_S}")
        assert ctx.camera.ptz is not None  # _limits checked it
        ctx.camera.ptz.default_timeout_s = seconds
    return "<tptz:SetConfigurationResponse/>"


def _num(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
