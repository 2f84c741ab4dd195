"""PTZ home position (the node advertises HomeSupported, FixedHomePosition false): SetHomePosition
keeps the current position, GotoHomePosition travels there (to the centre until one is set).
Auxiliary commands (wiper, IR lamp) are ptz_aux's.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from vms_camsim.onvif.device_media import Handler, OnvifContext
from vms_camsim.onvif.ptz_service import ptz_of, speed_of


def set_home_position(ctx: OnvifContext, op: Element) -> str:
    """Where the head is now becomes home (a factory default forgets it)."""
    ctx.ptz_home = ptz_of(ctx, op).position()
    return "<tptz:SetHomePositionResponse/>"


def goto_home_position(ctx: OnvifContext, op: Element) -> str:
    """Travel home at the optional speed."""
    ptz = ptz_of(ctx, op)
    ptz.absolute(ctx.ptz_home or (0.0, 0.0, 0.0), speed_of(op))
    return "<tptz:GotoHomePositionResponse/>"


PTZ_HOME_OPS: dict[str, Handler] = {"SetHomePosition": set_home_position, "GotoHomePosition": goto_home_position}
