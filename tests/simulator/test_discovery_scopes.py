"""WS-Discovery scope matching: a Probe with Scopes is answered only by cameras that have every scope
it asks for (RFC 2396/3986 rule by default). Runs the responder's datagram handler directly, so it
needs no multicast (the network-namespace tests in test_discovery.py cover the sockets)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from vms_camsim import SimulatorHandle
from vms_camsim.discovery import DiscoveryResponder, scope_matches
from vms_camsim.onvif.soap import child, text

WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
DEVICE = "onvif://www.onvif.org/name/VMS_Simulator_cam1"


@pytest.mark.parametrize(("probe", "device", "rule", "expected"), [
    ("onvif://www.onvif.org/name", DEVICE, None, True),
    ("onvif://www.onvif.org/name/", DEVICE, None, True),  # a trailing '/' adds no segment
    (DEVICE, DEVICE, None, True),
    ("ONVIF://WWW.ONVIF.ORG/name", DEVICE, None, True),  # scheme and authority ignore case
    ("onvif://www.onvif.org/Name", DEVICE, None, False),  # path segments do not
    ("onvif://www.onvif.org/name/VMS", DEVICE, None, False),  # segment-wise, not a string prefix
    ("onvif://www.onvif.org/name/VMS_Simulator_cam1/x", DEVICE, None, False),
    ("onvif://other.org/name", DEVICE, None, False),
    ("http://www.onvif.org/name", DEVICE, None, False),
    ("onvif://www.onvif.org/name/VMS%5FSimulator_cam1", DEVICE, None, True),  # escapes are canonicalised
    ("onvif://www.onvif.org/name/../name", DEVICE, None, False),  # dot segments never match
    ("onvif://www.onvif.org/name?x=1", DEVICE, None, True),  # query is not compared
    ("onvif://www.onvif.org/name", DEVICE, f"{WSD}/rfc2396", True),
    ("onvif://www.onvif.org/name", DEVICE, "http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01/rfc3986", True),
    ("onvif://www.onvif.org/name", DEVICE, f"{WSD}/strcmp0", False),
    (DEVICE, DEVICE, f"{WSD}/strcmp0", True),
    ("onvif://www.onvif.org/name", DEVICE, "urn:example:unknown-rule", False),
])
def test_scope_rule(probe: str, device: str, rule: str | None, expected: bool) -> None:
    assert scope_matches(probe, device, rule) is expected


class _Capture:
    """Stands in for the UDP transport: keeps what the responder sends."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append(data)

    def close(self) -> None:
        pass


def _probe(scopes: str | None, match_by: str | None = None, types: str = "dn:NetworkVideoTransmitter") -> bytes:
    attr = f' MatchBy="{match_by}"' if match_by else ""
    scope_xml = f"<d:Scopes{attr}>{scopes}</d:Scopes>" if scopes is not None else ""
    return (f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:d="{WSD}" '
            'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
            'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header>'
            "<a:MessageID>urn:uuid:0b7a6f2e-0000-4000-8000-000000000001</a:MessageID></s:Header>"
            f"<s:Body><d:Probe><d:Types>{types}</d:Types>{scope_xml}</d:Probe></s:Body></s:Envelope>").encode()


def _answered(sim: SimulatorHandle, datagram: bytes) -> list[str]:
    """Names (from the name scope) of the cameras that sent a ProbeMatch."""
    responder = DiscoveryResponder(sim)
    capture = _Capture()
    responder._transport = capture  # type: ignore[assignment]
    responder.on_datagram(datagram, ("127.0.0.1", 40000))
    names = []
    for data in capture.sent:
        root = ET.fromstring(data)
        assert text(root, "Header", "RelatesTo") == "urn:uuid:0b7a6f2e-0000-4000-8000-000000000001"
        scopes = (text(child(root, "Body", "ProbeMatches"), "ProbeMatch", "Scopes") or "").split()
        names += [s.rsplit("_", 1)[-1] for s in scopes if s.startswith("onvif://www.onvif.org/name/")]
    return sorted(names)


def test_probe_scopes_select_cameras(sim: SimulatorHandle) -> None:
    everyone = ["basic", "cam1", "open"]
    assert _answered(sim, _probe(None)) == everyone
    assert _answered(sim, _probe("")) == everyone  # an empty Scopes element asks for nothing
    assert _answered(sim, _probe("onvif://www.onvif.org/Profile/Streaming")) == everyone
    assert _answered(sim, _probe("onvif://www.onvif.org/name/VMS_Simulator_cam1")) == ["cam1"]
    # Every probe scope must match: one that no camera has silences them all.
    assert _answered(sim, _probe("onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/type/ptz")) == []
    assert _answered(sim, _probe("onvif://www.onvif.org/location/elsewhere")) == []
    assert _answered(sim, _probe("onvif://www.onvif.org/location", f"{WSD}/strcmp0")) == []
    assert _answered(sim, _probe("onvif://www.onvif.org/location/simulator", f"{WSD}/strcmp0")) == everyone
    assert _answered(sim, _probe(None, types="tds:SomethingElse")) == []
