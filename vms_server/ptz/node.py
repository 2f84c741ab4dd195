"""What a camera's PTZ node and configuration say about its spaces and limits, and how an operator's
normalised command (-1..1 per axis) is put into them.

Cameras differ: most use the ONVIF generic spaces, some add their own (degrees, or a velocity range
that is not -1..1), some restrict the absolute range with PanTiltLimits. Reading the node before the
first move lets the server scale a joystick to the whole speed range the head has, name the space
it means, and refuse an axis the head does not have instead of sending a command it rejects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GENERIC = "http://www.onvif.org/ver10/tptz"
PT_VELOCITY = f"{GENERIC}/PanTiltSpaces/VelocityGenericSpace"
ZOOM_VELOCITY = f"{GENERIC}/ZoomSpaces/VelocityGenericSpace"
PT_POSITION = f"{GENERIC}/PanTiltSpaces/PositionGenericSpace"
ZOOM_POSITION = f"{GENERIC}/ZoomSpaces/PositionGenericSpace"


@dataclass(frozen=True)
class Space:
    """One space of a node: its URI and the range of each axis (y empty for 1D spaces)."""

    uri: str
    x: tuple[float, float]
    y: tuple[float, float] | None = None


@dataclass(frozen=True)
class PtzNode:
    """The spaces a head moves in; None where the node has no such space."""

    pan_tilt_velocity: Space | None
    zoom_velocity: Space | None
    pan_tilt_position: Space | None
    zoom_position: Space | None
    aux_commands: tuple[str, ...] = ()  # SendAuxiliaryCommand data the node offers (tt:Wiper|On...)

    @classmethod
    def generic(cls) -> PtzNode:
        """What to assume of a camera that does not describe its node (older firmware)."""
        return cls(Space(PT_VELOCITY, (-1.0, 1.0), (-1.0, 1.0)), Space(ZOOM_VELOCITY, (-1.0, 1.0)),
                   Space(PT_POSITION, (-1.0, 1.0), (-1.0, 1.0)), Space(ZOOM_POSITION, (0.0, 1.0)))


def _range(value: Any) -> tuple[float, float] | None:
    if value is None or getattr(value, "Min", None) is None or getattr(value, "Max", None) is None:
        return None
    return float(value.Min), float(value.Max)


def _pick(spaces: Any, generic_uri: str, two_d: bool) -> Space | None:
    """The generic space among ``spaces`` if the node has it, else its first."""
    found: list[Space] = []
    for item in spaces or []:
        x = _range(getattr(item, "XRange", None))
        y = _range(getattr(item, "YRange", None)) if two_d else None
        if x is None or (two_d and y is None):
            continue
        found.append(Space(str(item.URI), x, y))
    return next((s for s in found if s.uri == generic_uri), found[0] if found else None)


def _limit(space: Space | None, limits: Any) -> Space | None:
    """Narrow an absolute space to the configuration's limits when they are in the same space."""
    rng = getattr(limits, "Range", None)
    if space is None or rng is None or str(getattr(rng, "URI", "")) != space.uri:
        return space
    x, y = _range(getattr(rng, "XRange", None)), _range(getattr(rng, "YRange", None))
    return Space(space.uri, x or space.x, y if space.y is not None and y is not None else space.y)


def parse_node(node: Any, configuration: Any | None) -> PtzNode:
    """A PtzNode from a GetNode answer and (optionally) the profile's PTZ configuration."""
    spaces = getattr(node, "SupportedPTZSpaces", None)
    pan_tilt = _pick(getattr(spaces, "AbsolutePanTiltPositionSpace", None), PT_POSITION, True)
    zoom = _pick(getattr(spaces, "AbsoluteZoomPositionSpace", None), ZOOM_POSITION, False)
    return PtzNode(
        pan_tilt_velocity=_pick(getattr(spaces, "ContinuousPanTiltVelocitySpace", None), PT_VELOCITY, True),
        zoom_velocity=_pick(getattr(spaces, "ContinuousZoomVelocitySpace", None), ZOOM_VELOCITY, False),
        pan_tilt_position=_limit(pan_tilt, getattr(configuration, "PanTiltLimits", None)),
        zoom_position=_limit(zoom, getattr(configuration, "ZoomLimits", None)),
        aux_commands=tuple(str(c) for c in getattr(node, "AuxiliaryCommands", None) or [] if c),
    )


def scale(value: float, rng: tuple[float, float]) -> float:
    """Put a normalised -1..1 command into ``rng``: 0 stays 0 when the range spans it (so 'stop' stays
    'stop'), each half scaled to its end; otherwise the range is mapped linearly."""
    low, high = rng
    if low <= 0.0 <= high:
        return value * high if value >= 0 else -value * low
    return low + (value + 1.0) / 2.0 * (high - low)


def normalise(value: float, rng: tuple[float, float], low_end: float = -1.0) -> float:
    """Map a position in ``rng`` to ``low_end``..1 (the inverse of a linear map onto the range)."""
    low, high = rng
    if high <= low:
        return value
    return low_end + (value - low) / (high - low) * (1.0 - low_end)


class AxisMissing(Exception):
    """The command moves an axis the node has no velocity space for."""


def velocity(node: PtzNode, pan: float, tilt: float, zoom: float) -> dict[str, Any]:
    """ContinuousMove's Velocity for a normalised command, in the node's spaces. Raises AxisMissing."""
    out: dict[str, Any] = {}
    pt, zm = node.pan_tilt_velocity, node.zoom_velocity
    if pt is not None and pt.y is not None:
        out["PanTilt"] = {"x": scale(pan, pt.x), "y": scale(tilt, pt.y), "space": pt.uri}
    elif pan or tilt:
        raise AxisMissing("this camera cannot pan or tilt continuously")
    if zm is not None:
        out["Zoom"] = {"x": scale(zoom, zm.x), "space": zm.uri}
    elif zoom:
        raise AxisMissing("this camera cannot zoom continuously")
    return out
