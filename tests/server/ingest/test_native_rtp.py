"""The native reader's parsing without a network: SDP, RTP depacketisation (H.264 and H.265, single NAL,
aggregation and fragmentation units), sequence holes, timestamp wrap, RTCP wall clock and Digest answers."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest

from vms_camsim.rtp import packetize_h264, packetize_h265
from vms_server.ingest.health import StreamState
from vms_server.ingest.native_worker import in_band_parameter_sets
from vms_server.ingest.rtp_native import START, AccessUnit, Depacketizer, InterleavedReader, ProtocolError
from vms_server.ingest.rtsp_native import Authenticator, parse_sdp, split_url
from vms_server.ingest.source import SourceError

SPS = bytes([0x67, 0x64, 0x00, 0x16, 0xAC, 0xB4])
PPS = bytes([0x68, 0xEF, 0x3C, 0xB0])
IDR = bytes([0x65]) + bytes(range(256)) * 20  # 5 kB: fragmented
P_SLICE = bytes([0x41]) + bytes(300)


def _rtp(payload: bytes, seq: int, ts: int, marker: bool, pt: int = 96) -> bytes:
    return struct.pack(">BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFF_FFFF, 1) + payload


def _interleave(packet: bytes, channel: int = 0) -> bytes:
    return struct.pack(">BBH", 0x24, channel, len(packet)) + packet


def _unit_packets(nals: list[bytes], seq: int, ts: int, packetize=packetize_h264) -> list[bytes]:  # type: ignore[no-untyped-def]
    payloads = [p for nal in nals for p in packetize(nal)]
    return [_rtp(p, seq + i, ts, i == len(payloads) - 1) for i, p in enumerate(payloads)]


def _reader(codec: str = "h264") -> tuple[InterleavedReader, list[AccessUnit]]:
    units: list[AccessUnit] = []
    return InterleavedReader(Depacketizer(codec, 96, 90_000, units.append)), units


def test_fragmented_h264_units_come_out_whole_in_annex_b_whatever_the_read_sizes() -> None:
    key = _unit_packets([SPS, PPS, IDR], 100, 9000)
    delta = _unit_packets([P_SLICE], 100 + len(key), 12600)
    stream = b"".join(_interleave(p) for p in key + delta)
    assert len(packetize_h264(IDR)) > 3  # the keyframe really is cut into FU-A fragments
    for step in (1, 7, 1500, len(stream)):  # a read may end anywhere, even inside a header
        reader, units = _reader()
        for pos in range(0, len(stream), step):
            reader.feed(stream[pos : pos + step])
        assert [u.data for u in units] == [START + SPS + START + PPS + START + IDR, START + P_SLICE]
        assert [u.keyframe for u in units] == [True, False]
        assert [u.timestamp for u in units] == [9000, 12600]


def test_stap_a_carries_several_nal_units_in_one_packet() -> None:
    stap = bytes([24]) + b"".join(struct.pack(">H", len(n)) + n for n in (SPS, PPS))
    reader, units = _reader()
    reader.feed(_interleave(_rtp(stap, 1, 0, False)) + _interleave(_rtp(bytes([0x65, 1, 2, 3]), 2, 0, True)))
    assert units[0].data == START + SPS + START + PPS + START + bytes([0x65, 1, 2, 3])
    assert units[0].keyframe


def test_a_sequence_hole_drops_the_damaged_unit_and_everything_until_the_next_keyframe() -> None:
    reader, units = _reader()
    first = _unit_packets([IDR], 10, 0)
    seq = 10 + len(first)
    broken = _unit_packets([IDR], seq, 3600)
    del broken[1]  # a fragment lost in the middle of a keyframe
    seq += len(broken) + 1
    after = _unit_packets([P_SLICE], seq, 7200)  # refers to the lost picture: dropped too
    seq += 1
    key = _unit_packets([IDR], seq, 10800)
    for packet in first + broken + after + key:
        reader.feed(_interleave(packet))
    assert [u.timestamp for u in units] == [0, 10800]
    assert reader.depacketizer.dropped_units == 2


def test_rtp_timestamps_keep_rising_across_the_32_bit_wrap() -> None:
    reader, units = _reader()
    ts = 0xFFFF_FFFF - 3600
    for i in range(4):
        reader.feed(_interleave(_rtp(P_SLICE if i else bytes([0x65, 9]), i, ts + 3600 * i, True)))
    stamps = [u.timestamp for u in units]
    assert stamps == [ts + 3600 * i for i in range(4)]


def test_an_rtcp_sender_report_gives_the_wall_clock_of_later_units() -> None:
    reader, units = _reader()
    ntp_seconds = 2_208_988_800 + 1_800_000_000
    sr = struct.pack(">BBHIIIIII", 0x80, 200, 6, 1, ntp_seconds, 1 << 31, 90_000, 0, 0)
    reader.feed(_interleave(sr, channel=1) + _interleave(_rtp(bytes([0x65, 1]), 1, 90_000 + 45_000, True)))
    assert units[0].wall_us == 1_800_000_000 * 1_000_000 + 500_000 + 500_000


def test_h265_fragmentation_and_aggregation_units() -> None:
    vps, sps, pps = bytes([0x40, 0x01, 1]), bytes([0x42, 0x01, 2]), bytes([0x44, 0x01, 3])
    idr = bytes([0x26, 0x01]) + bytes(range(200)) * 20  # IDR_W_RADL (19)
    ap = bytes([48 << 1, 1]) + b"".join(struct.pack(">H", len(n)) + n for n in (vps, sps, pps))
    packets = [_rtp(ap, 1, 0, False)] + [_rtp(p, 2 + i, 0, False) for i, p in enumerate(packetize_h265(idr))]
    packets[-1] = _rtp(packetize_h265(idr)[-1], 1 + len(packets) - 1, 0, True)
    reader, units = _reader("hevc")
    reader.feed(b"".join(_interleave(p) for p in packets))
    assert units[0].data == b"".join(START + n for n in (vps, sps, pps, idr))
    assert units[0].keyframe
    assert in_band_parameter_sets("hevc", units[0].data) == (vps, sps, pps)


def test_rtsp_answers_between_packets_are_skipped_and_garbage_is_refused() -> None:
    reader, units = _reader()
    answer = b"RTSP/1.0 200 OK\r\nCSeq: 5\r\nContent-Length: 4\r\n\r\nbody"
    packet = _interleave(_rtp(bytes([0x65, 1]), 1, 0, True))
    reader.feed(answer[:20])
    reader.feed(answer[20:] + packet)
    assert len(units) == 1
    with pytest.raises(ProtocolError):
        reader.feed(b"HTTP/1.1 400 Bad Request\r\n\r\n")


def test_sdp_video_track_with_parameter_sets_and_a_relative_control() -> None:
    sdp = "\r\n".join([
        "v=0", "o=- 1 1 IN IP4 10.0.0.2", "s=cam", "t=0 0",
        "m=audio 0 RTP/AVP 0", "a=control:trackID=1",
        "m=video 0 RTP/AVP 96", "a=rtpmap:96 H264/90000",
        f"a=fmtp:96 packetization-mode=1;sprop-parameter-sets={base64.b64encode(SPS).decode()},"
        f"{base64.b64encode(PPS).decode().rstrip('=')}",
        "a=framerate:25", "a=control:trackID=0"])
    track = parse_sdp(sdp, "rtsp://10.0.0.2/stream1/")
    assert (track.codec, track.payload_type, track.clock_rate, track.framerate) == ("h264", 96, 90_000, 25.0)
    assert track.control == "rtsp://10.0.0.2/stream1/trackID=0"
    assert track.parameter_sets == (SPS, PPS)


def test_sdp_without_h264_or_h265_is_refused_with_what_it_offers() -> None:
    sdp = "v=0\r\nm=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\n"
    with pytest.raises(SourceError) as caught:
        parse_sdp(sdp, "rtsp://cam/")
    assert caught.value.state == StreamState.UNSUPPORTED and not caught.value.retry
    assert "JPEG" in str(caught.value)


def test_digest_answer_follows_rfc_2617_and_credentials_never_reach_the_request_url() -> None:
    host, port, clean, user, password = split_url("rtsp://ad%40min:p%3Ass@10.0.0.9/live")
    assert (host, port, clean, user, password) == ("10.0.0.9", 554, "rtsp://10.0.0.9/live", "ad@min", "p:ss")
    auth = Authenticator(user, password)
    assert auth.challenge('Digest realm="cam", nonce="abc", qop="auth", opaque="xyz"')
    header = auth.header("DESCRIBE", clean)
    assert header is not None and header.startswith("Digest ")
    fields = dict(part.strip().split("=", 1) for part in header[7:].split(","))
    fields = {k: v.strip('"') for k, v in fields.items()}

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    expected = md5(f"{md5('ad@min:cam:p:ss')}:abc:{fields['nc']}:{fields['cnonce']}:auth:{md5('DESCRIBE:' + clean)}")
    assert fields["response"] == expected and fields["opaque"] == "xyz" and fields["nc"] == "00000001"
    assert not Authenticator("", "").challenge('Digest realm="cam", nonce="abc"')
