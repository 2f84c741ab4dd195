"""PTZ auxiliary commands (SendAuxiliaryCommand): the wiper and the IR lamp of a dome.

The node advertises them in tt:AuxiliaryCommands using the names the ONVIF PTZ specification lists
(``tt:Wiper|On``, ``tt:IRLamp|Auto``...); a client sends one of those strings back. Each device keeps
its state, and the answer says the device's state after the command, so a client (and a test) sees
that it took effect. Any other string is env:Sender/ter:InvalidArgVal/ter:InvalidArgs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from vms_camsim.onvif.soap import SoapFault, invalid_arg, text

if TYPE_CHECKING:
    from vms_camsim.onvif.device_media import Handler, OnvifContext

DEVICES = {"tt:Wiper": ("On", "Off"), "tt:IRLamp": ("On", "Off", "Auto")}
AUX_COMMANDS = tuple(f"{device}|{state}" for device, states in DEVICES.items() for state in states)


def auxiliary_commands_xml() -> str:
    """The node's tt:AuxiliaryCommands elements."""
    return "".join(f"<tt:AuxiliaryCommands>{command}</tt:AuxiliaryCommands>" for command in AUX_COMMANDS)


def send_auxiliary_command(ctx: OnvifContext, op: Element) -> str:
    """Switch the wiper or IR lamp; answers ``<device>|<state now>``."""
    if ctx.camera.ptz is None:  # (ptz_service.ptz_of, which imports what imports this module)
        raise SoapFault("Receiver", ("ter:ActionNotSupported", "ter:PTZNotSupported"), "not a PTZ camera", 500)
    ctx.stream(text(op, "ProfileToken"))
    data = (text(op, "AuxiliaryData") or "").strip()
    if data not in AUX_COMMANDS:
        raise invalid_arg("InvalidArgs", f"auxiliary command {escape(data)!r} is not offered "
                          f"({', '.join(AUX_COMMANDS)})")
    device, state = data.split("|", 1)
    ctx.aux[device] = state
    return ("<tptz:SendAuxiliaryCommandResponse><tptz:AuxiliaryResponse>"
            f"{device}|{ctx.aux[device]}</tptz:AuxiliaryResponse></tptz:SendAuxiliaryCommandResponse>")


PTZ_AUX_OPS: dict[str, Handler] = {"SendAuxiliaryCommand": send_auxiliary_command}
