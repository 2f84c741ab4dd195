"""ONVIF Profile G recording search (``/onvif/search_service``) and recording list (``/onvif/recording_service``).

A camera with a card (vms_camsim.edge_card) has one recording with one video track, spanning what the card
holds. A VMS finds it with FindRecordings + GetRecordingSearchResults (or GetRecordingSummary for the overall
span), reads its span from EarliestRecording/LatestRecording (and the track's DataFrom/DataTo), and replays a
range of it through the replay service. Searches live for their KeepAliveTime; EndSearch ends one early.
"""

from __future__ import annotations

import secrets
import time
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from vms_camsim.edge_card import EdgeCard, iso
from vms_camsim.onvif.device_media import Handler, OnvifContext
from vms_camsim.onvif.soap import SoapFault, invalid_arg, parse_duration, text

TSE = "http://www.onvif.org/ver10/search/wsdl"
TRC = "http://www.onvif.org/ver10/recording/wsdl"
_MAX_SEARCHES = 64


class _Search:
    def __init__(self, tokens: list[str], keep_alive_s: float) -> None:
        self.tokens, self.keep_alive_s = tokens, keep_alive_s
        self.expires = time.monotonic() + keep_alive_s
        self.delivered = False


_searches: dict[str, _Search] = {}  # by search token (random, so one table serves every camera)


def _card(ctx: OnvifContext) -> EdgeCard:
    card = ctx.camera.card
    if card is None:
        raise SoapFault("Receiver", ("ter:ActionNotSupported",), "this camera has no edge storage", 500)
    return card


def recording_information(ctx: OnvifContext, card: EdgeCard) -> str:
    """tt:RecordingInformation of the card's recording (what FindRecordings results and
    GetRecordingInformation carry)."""
    earliest, latest = card.span()
    cam = ctx.camera.config
    return (f"<tt:RecordingToken>{escape(card.token)}</tt:RecordingToken>"
            f"<tt:Source><tt:SourceId>{escape(ctx.xaddr('device'))}</tt:SourceId><tt:Name>{escape(cam.name)}"
            f"</tt:Name><tt:Location>edge</tt:Location><tt:Description>card of {escape(cam.name)}</tt:Description>"
            f"<tt:Address>{escape(ctx.xaddr('device'))}</tt:Address></tt:Source>"
            f"<tt:EarliestRecording>{iso(earliest)}</tt:EarliestRecording>"
            f"<tt:LatestRecording>{iso(latest)}</tt:LatestRecording>"
            "<tt:Content>continuous</tt:Content>"
            "<tt:Track><tt:TrackToken>VIDEO001</tt:TrackToken><tt:TrackType>Video</tt:TrackType>"
            f"<tt:Description>main stream</tt:Description><tt:DataFrom>{iso(earliest)}</tt:DataFrom>"
            f"<tt:DataTo>{iso(latest)}</tt:DataTo></tt:Track>"
            "<tt:RecordingStatus>Recording</tt:RecordingStatus>")


def _expire() -> None:
    now = time.monotonic()
    for token in [t for t, s in _searches.items() if s.expires < now]:
        del _searches[token]


def get_search_capabilities(ctx: OnvifContext, op: Element) -> str:
    """Metadata search is not offered; recording search is."""
    return (f'<tse:GetServiceCapabilitiesResponse xmlns:tse="{TSE}"><tse:Capabilities MetadataSearch="false" '
            'GeneralStartEvents="false"/></tse:GetServiceCapabilitiesResponse>')


def get_recording_summary(ctx: OnvifContext, op: Element) -> str:
    """The span of everything recorded (the one recording, or nothing without a card)."""
    card = ctx.camera.card
    earliest, latest = card.span() if card is not None else (time.time(), time.time())
    return (f'<tse:GetRecordingSummaryResponse xmlns:tse="{TSE}"><tse:Summary>'
            f"<tt:DataFrom>{iso(earliest)}</tt:DataFrom><tt:DataUntil>{iso(latest)}</tt:DataUntil>"
            f"<tt:NumberRecordings>{1 if card else 0}</tt:NumberRecordings></tse:Summary>"
            "</tse:GetRecordingSummaryResponse>")


def find_recordings(ctx: OnvifContext, op: Element) -> str:
    """Start a search; every recording matches (the scope's filters are not evaluated)."""
    _expire()
    if len(_searches) >= _MAX_SEARCHES:
        raise SoapFault("Receiver", ("ter:Action", "ter:ResourceProblem"), "too many searches in progress", 500)
    keep_alive = min(parse_duration(text(op, "KeepAliveTime"), 60.0), 3600.0)
    card = ctx.camera.card
    token = secrets.token_hex(8)
    _searches[token] = _Search([card.token] if card is not None else [], keep_alive)
    return (f'<tse:FindRecordingsResponse xmlns:tse="{TSE}"><tse:SearchToken>{token}</tse:SearchToken>'
            "</tse:FindRecordingsResponse>")


def _search(op: Element) -> _Search:
    _expire()
    search = _searches.get(text(op, "SearchToken") or "")
    if search is None:
        raise invalid_arg("InvalidToken", "no such search (ended or expired)")
    search.expires = time.monotonic() + search.keep_alive_s
    return search


def get_recording_search_results(ctx: OnvifContext, op: Element) -> str:
    """The search's results, all at once (the search is Completed when it answers)."""
    search = _search(op)
    card = ctx.camera.card
    items = "".join(f"<tt:RecordingInformation>{recording_information(ctx, card)}</tt:RecordingInformation>"
                    for token in search.tokens if card is not None and token == card.token)
    search.delivered = True
    return (f'<tse:GetRecordingSearchResultsResponse xmlns:tse="{TSE}"><tse:ResultList>'
            f"<tt:SearchState>Completed</tt:SearchState>{items}</tse:ResultList>"
            "</tse:GetRecordingSearchResultsResponse>")


def end_search(ctx: OnvifContext, op: Element) -> str:
    """Forget a search."""
    search = _search(op)
    _searches.pop(next(t for t, s in _searches.items() if s is search), None)
    return (f'<tse:EndSearchResponse xmlns:tse="{TSE}"><tse:Endpoint>{iso(time.time())}</tse:Endpoint>'
            "</tse:EndSearchResponse>")


def get_recording_information(ctx: OnvifContext, op: Element) -> str:
    """One recording by token."""
    card = _card(ctx)
    if text(op, "RecordingToken") != card.token:
        raise invalid_arg("NoRecording", "no such recording")
    return (f'<tse:GetRecordingInformationResponse xmlns:tse="{TSE}"><tse:RecordingInformation>'
            f"{recording_information(ctx, card)}</tse:RecordingInformation></tse:GetRecordingInformationResponse>")


def get_recordings(ctx: OnvifContext, op: Element) -> str:
    """Recording service: the card's recording with its one video track."""
    card = ctx.camera.card
    items = ""
    if card is not None:
        name = escape(ctx.camera.config.name)
        items = (f"<trc:RecordingItem><tt:RecordingToken>{escape(card.token)}</tt:RecordingToken>"
                 f"<tt:Configuration><tt:Source><tt:SourceId>{name}</tt:SourceId><tt:Name>{name}</tt:Name>"
                 "<tt:Location>edge</tt:Location><tt:Description/><tt:Address/></tt:Source>"
                 "<tt:Content>continuous</tt:Content>"
                 f"<tt:MaximumRetentionTime>PT{card.retention_s:.0f}S</tt:MaximumRetentionTime></tt:Configuration>"
                 "<tt:Tracks><tt:Track><tt:TrackToken>VIDEO001</tt:TrackToken><tt:Configuration>"
                 "<tt:TrackType>Video</tt:TrackType><tt:Description>main stream</tt:Description>"
                 "</tt:Configuration></tt:Track></tt:Tracks></trc:RecordingItem>")
    return f'<trc:GetRecordingsResponse xmlns:trc="{TRC}">{items}</trc:GetRecordingsResponse>'


SEARCH_OPS: dict[str, Handler] = {
    "GetServiceCapabilities": get_search_capabilities, "GetRecordingSummary": get_recording_summary,
    "FindRecordings": find_recordings, "GetRecordingSearchResults": get_recording_search_results,
    "EndSearch": end_search, "GetRecordingInformation": get_recording_information,
}
RECORDING_OPS: dict[str, Handler] = {"GetRecordings": get_recordings}
