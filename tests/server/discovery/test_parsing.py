"""Pure parsing of the discovery package: scan ranges and WS-Discovery answers (what a hostile or broken device
on the LAN may send must be ignored, not crash a job)."""

from __future__ import annotations

import pytest

from vms_common.errors import InvalidInput
from vms_server.discovery.scan import MAX_ADDRESSES, parse_range
from vms_server.discovery.wsd import parse_matches, probe_message


def test_ranges() -> None:
    assert [str(a) for a in parse_range("10.0.0.0/30")] == ["10.0.0.1", "10.0.0.2"]
    assert [str(a) for a in parse_range(" 10.0.0.254-10.0.1.1 ")] == ["10.0.0.254", "10.0.0.255", "10.0.1.0",
                                                                      "10.0.1.1"]
    assert [str(a) for a in parse_range("192.168.1.7")] == ["192.168.1.7"]
    assert len(parse_range("10.0.0.0/20")) == MAX_ADDRESSES - 2
    # A from-to range written the other way round is the same addresses (not a refusal a schema cannot express).
    assert [str(a) for a in parse_range("10.0.0.3-10.0.0.1")] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    for bad, code in (("10.0.0.0/19", "scan_range_too_large"), ("10.0.0.0-10.0.16.0", "scan_range_too_large"),
                      ("10.0.0.300", "scan_range_invalid"),
                      ("::1", "scan_range_invalid"), ("", "scan_range_invalid")):
        with pytest.raises(InvalidInput) as err:
            parse_range(bad)
        assert err.value.code == code, bad


MATCH = (b'<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
         b'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
         b'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Header><a:RelatesTo>urn:uuid:1</a:RelatesTo>'
         b'</s:Header><s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:cam'
         b'</a:Address></a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>'
         b'onvif://www.onvif.org/name/Front%20Door onvif://www.onvif.org/hardware/X1</d:Scopes>'
         b'<d:XAddrs>http://10.0.0.9/onvif/device_service http://[fe80::1]/onvif/device_service</d:XAddrs>'
         b'</d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>')


def test_probe_matches() -> None:
    [match] = parse_matches(MATCH, "10.0.0.1", "10.0.0.9", "urn:uuid:1")
    assert match.endpoint == "urn:uuid:cam" and match.name == "Front Door" and match.hardware == "X1"
    assert match.xaddrs[0] == "http://10.0.0.9/onvif/device_service"
    assert parse_matches(MATCH, "10.0.0.1", "10.0.0.9", "urn:uuid:other") == []  # an answer to someone else
    assert parse_matches(b"<not xml", "i", "s", "urn:uuid:1") == []
    assert parse_matches(b"x" * 70_000, "i", "s", "urn:uuid:1") == []
    bomb = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
            b']><x>&b;</x>')
    assert parse_matches(bomb, "i", "s", "urn:uuid:1") == []
    assert b"NetworkVideoTransmitter" in probe_message("urn:uuid:1")


def test_rtp_loss_and_jitter_counting() -> None:
    from vms_server.cameras.rtp_stats import _Counter

    even = _Counter(90_000)
    for i in range(100):  # a packet every 10 ms, timestamps 900 ticks apart, across the 16-bit wrap
        even.add((65_500 + i) % 65_536, i * 900, i * 0.01)
    stats = even.stats()
    assert stats.packets == 100 and stats.lost == 0 and stats.jitter_ms is not None and stats.jitter_ms < 0.01
    gappy = _Counter(90_000)
    for i in [*range(0, 40), *range(45, 100)]:  # five never sent
        gappy.add(i, i * 900, i * 0.01 + (0.02 if i % 2 else 0))  # every other packet 20 ms late
    stats = gappy.stats()
    assert stats.lost == 5 and stats.loss_pct == 5.0
    assert stats.jitter_ms is not None and stats.jitter_ms > 5


def test_clock_offset_from_a_sender_report() -> None:
    import struct

    from vms_server.cameras.rtp_stats import NTP_EPOCH_OFFSET, _Counter

    counter = _Counter(90_000)
    camera_time = 1_800_000_000.25
    report = struct.pack(">BBHIIIIII", 0x80, 200, 6, 1, int(camera_time) + NTP_EPOCH_OFFSET, 1 << 30, 0, 0, 0)
    counter.add_rtcp(report, camera_time - 3.0)  # the server's clock is 3 s behind
    assert counter.stats().clock_offset_ms == 3000.0
    counter.add_rtcp(b"\x81\xca\x00\x01", 0)  # not a sender report: ignored
    assert counter.stats().clock_offset_ms == 3000.0
