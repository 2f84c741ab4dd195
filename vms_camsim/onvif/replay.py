"""ONVIF Profile G replay service (``/onvif/replay_service``): where a recording can be replayed over RTSP.

GetReplayUri answers ``rtsp://host:port/<camera>/replay``; the range, speed and pacing are chosen in the
RTSP PLAY request (vms_camsim.rtsp_replay).
"""

from __future__ import annotations

from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from vms_camsim.onvif.device_media import Handler, OnvifContext
from vms_camsim.onvif.soap import SoapFault, invalid_arg, text

TRP = "http://www.onvif.org/ver10/replay/wsdl"
SESSION_TIMEOUT = "PT60S"


def get_replay_capabilities(ctx: OnvifContext, op: Element) -> str:
    """Replay over RTSP/TCP, no reverse playback."""
    return (f'<trp:GetServiceCapabilitiesResponse xmlns:trp="{TRP}"><trp:Capabilities ReversePlayback="false" '
            f'SessionTimeoutRange="60 60" RTP_RTSP_TCP="true"/></trp:GetServiceCapabilitiesResponse>')


def get_replay_uri(ctx: OnvifContext, op: Element) -> str:
    """The RTSP URI that replays the card's recording (RTSP over TCP only: UDP is refused)."""
    card = ctx.camera.card
    if card is None:
        raise SoapFault("Receiver", ("ter:ActionNotSupported",), "this camera has no edge storage", 500)
    if text(op, "RecordingToken") != card.token:
        raise invalid_arg("NoRecording", "no such recording")
    protocol = text(op, "StreamSetup", "Transport", "Protocol") or "RTSP"
    if protocol.upper() not in ("RTSP", "TCP", "HTTP"):
        raise invalid_arg("InvalidStreamSetup", f"replay is RTSP over TCP, not {protocol}")
    main = ctx.rtsp_urls["main"]
    uri = main[: main.rstrip("/").rfind("/")] + "/replay"
    return f'<trp:GetReplayUriResponse xmlns:trp="{TRP}"><trp:Uri>{escape(uri)}</trp:Uri></trp:GetReplayUriResponse>'


def get_replay_configuration(ctx: OnvifContext, op: Element) -> str:
    """The session timeout of replay sessions (fixed)."""
    return (f'<trp:GetReplayConfigurationResponse xmlns:trp="{TRP}"><trp:Configuration>'
            f"<tt:SessionTimeout>{SESSION_TIMEOUT}</tt:SessionTimeout></trp:Configuration>"
            "</trp:GetReplayConfigurationResponse>")


REPLAY_OPS: dict[str, Handler] = {
    "GetServiceCapabilities": get_replay_capabilities, "GetReplayUri": get_replay_uri,
    "GetReplayConfiguration": get_replay_configuration,
}
