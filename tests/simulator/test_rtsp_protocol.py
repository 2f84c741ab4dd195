"""RTSP protocol behaviour through a raw socket: methods, errors, auth, RTP/RTCP on the wire."""

from __future__ import annotations

import base64
import itertools
import struct
import time

from vms_camsim import SimulatorHandle
from vms_camsim.rtp import NTP_EPOCH_OFFSET

from .helpers import RawRtsp, digest_header

TCP = "RTP/AVP/TCP;unicast;interleaved=0-1"


def _port(sim: SimulatorHandle) -> int:
    assert sim.rtsp is not None
    return sim.rtsp.port


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def _play_tcp(client: RawRtsp, url: str, auth: dict[str, str] | None = None) -> str:
    auth = auth or {}
    described = await client.request("DESCRIBE", url, {"Accept": "application/sdp", **auth})
    assert described.status == 200, described
    setup = await client.request("SETUP", url + "/trackID=0", {"Transport": TCP, **auth})
    assert setup.status == 200, setup
    session = setup.headers["session"].split(";")[0]
    played = await client.request("PLAY", url, {"Session": session, "Range": "npt=0-", **auth})
    assert played.status == 200
    assert "rtptime=" in played.headers["rtp-info"]
    return session


async def test_options_lists_methods_without_auth(sim: SimulatorHandle) -> None:
    client = await RawRtsp.connect(_port(sim))
    response = await client.request("OPTIONS", sim.rtsp_url("cam1"))
    assert response.status == 200
    for method in ("DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER"):
        assert method in response.headers["public"]
    await client.close()


async def test_describe_returns_sdp_with_parameter_sets(sim: SimulatorHandle) -> None:
    client = await RawRtsp.connect(_port(sim))
    response = await client.request("DESCRIBE", sim.rtsp_url("open"))
    assert response.status == 200
    assert response.headers["content-type"] == "application/sdp"
    sdp = response.body.decode()
    assert "a=rtpmap:96 H264/90000" in sdp
    fmtp = next(line for line in sdp.splitlines() if line.startswith("a=fmtp:96"))
    sps_b64 = fmtp.split("sprop-parameter-sets=")[1].split(",")[0]
    assert base64.b64decode(sps_b64)[0] & 0x1F == 7  # an SPS NAL unit
    assert "a=control:trackID=0" in sdp
    await client.close()


async def test_bad_requests_get_error_statuses_and_server_survives(sim: SimulatorHandle) -> None:
    client = await RawRtsp.connect(_port(sim))
    await client.send_raw(b"\x16\x03\x01garbage-that-is-not-rtsp\r\n\r\n")
    assert (await client.read_response()).status == 400
    await client.send_raw(b"DESCRIBE rtsp://127.0.0.1/open/main RTSP/1.0\r\nCSeq: abc\r\n\r\n")
    assert (await client.read_response()).status == 400  # invalid CSeq
    await client.send_raw(b"OPTIONS * RTSP/1.0\r\n\r\n")
    assert (await client.read_response()).status == 400  # missing CSeq
    await client.send_raw(b"OPTIONS * HTTP/1.1\r\nCSeq: 9\r\n\r\n")
    response = await client.read_response()
    assert response.status == 505 and response.headers["cseq"] == "9"
    assert (await client.request("FROBNICATE", sim.rtsp_url("open"))).status == 501
    nowhere = sim.rtsp_url("open").replace("/open/", "/nosuchcam/")
    assert (await client.request("DESCRIBE", nowhere)).status == 404
    assert (await client.request("DESCRIBE", sim.rtsp_url("open", "third"))).status == 404
    unknown_track = await client.request("SETUP", sim.rtsp_url("open") + "/trackID=7", {"Transport": TCP})
    assert unknown_track.status == 404
    multicast = await client.request("SETUP", sim.rtsp_url("open") + "/trackID=0",
                                     {"Transport": "RTP/AVP;multicast;port=5000-5001"})
    assert multicast.status == 461
    assert (await client.request("PLAY", sim.rtsp_url("open"), {"Session": "deadbeef"})).status == 454
    required = await client.request("OPTIONS", sim.rtsp_url("open"), {"Require": "funky-feature"})
    assert required.status == 551 and required.headers["unsupported"] == "funky-feature"
    # The same connection, and the server, still work.
    assert (await client.request("OPTIONS", sim.rtsp_url("open"))).status == 200
    await client.close()
    other = await RawRtsp.connect(_port(sim))
    assert (await other.request("DESCRIBE", sim.rtsp_url("open"))).status == 200
    await other.close()


async def test_basic_auth(sim: SimulatorHandle) -> None:
    client = await RawRtsp.connect(_port(sim))
    url = sim.rtsp_url("basic")
    challenge = await client.request("DESCRIBE", url)
    assert challenge.status == 401
    assert challenge.headers["www-authenticate"].startswith("Basic ")
    assert (await client.request("DESCRIBE", url, _basic("admin", "wrong"))).status == 401
    assert (await client.request("DESCRIBE", url, _basic("admin", "admin"))).status == 200
    await client.close()


async def test_digest_auth(sim: SimulatorHandle) -> None:
    client = await RawRtsp.connect(_port(sim))
    url = sim.rtsp_url("cam1")
    challenge = await client.request("DESCRIBE", url)
    assert challenge.status == 401
    digest = next(v for v in challenge.headers["www-authenticate"].split("\n") if v.startswith("Digest"))
    wrong = digest_header("DESCRIBE", url, digest, "admin", "nope")
    assert (await client.request("DESCRIBE", url, {"Authorization": wrong})).status == 401
    good = digest_header("DESCRIBE", url, digest, "admin", "admin")
    assert (await client.request("DESCRIBE", url, {"Authorization": good})).status == 200
    forged = good.replace('nonce="', 'nonce="0')
    assert (await client.request("DESCRIBE", url, {"Authorization": forged})).status == 401
    await client.close()


async def test_tcp_interleaved_rtp_and_sender_reports(sim: SimulatorHandle) -> None:
    client = await RawRtsp.connect(_port(sim))
    session = await _play_tcp(client, sim.rtsp_url("open"))
    packets = await client.read_packets(2.2)
    rtp = [p for p in packets if p.channel == 0]
    rtcp = [p for p in packets if p.channel == 1]
    assert len({p.ssrc for p in rtp}) == 1
    seqs = [p.seq for p in rtp]
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))
    assert rtp[0].payload[0] & 0x1F in (7, 5)  # starts at a keyframe (SPS first)
    frames = sum(p.marker for p in rtp)
    assert 25 <= frames <= 56  # 2.2 s at 25 fps minus up to 1 s waiting for a keyframe
    stamps = sorted({p.timestamp for p in rtp})
    assert all(b - a == 3600 for a, b in itertools.pairwise(stamps))  # 90 kHz / 25 fps
    kbps = sum(len(p.payload) for p in rtp) * 8 / ((stamps[-1] - stamps[0]) / 90_000 + 0.04) / 1000
    assert 0.6 * 400 < kbps < 1.6 * 400, f"{kbps:.0f} kbit/s delivered for a 400 kbit/s stream"
    assert rtcp and rtcp[0].data[1] == 200  # a sender report
    ntp_seconds = struct.unpack_from(">I", rtcp[0].data, 8)[0]
    assert abs(ntp_seconds - NTP_EPOCH_OFFSET - time.time()) < 5
    assert (await client.request("GET_PARAMETER", sim.rtsp_url("open"), {"Session": session})).status == 200
    paused = await client.request("PAUSE", sim.rtsp_url("open"), {"Session": session})
    assert paused.status == 200
    await client.read_packets(0.3)  # drain what was in flight
    assert not await client.read_packets(0.6)
    assert (await client.request("TEARDOWN", sim.rtsp_url("open"), {"Session": session})).status == 200
    assert (await client.request("PLAY", sim.rtsp_url("open"), {"Session": session})).status == 454
    await client.close()


async def test_each_session_has_its_own_ssrc_and_sequence(sim: SimulatorHandle) -> None:
    first, second = await RawRtsp.connect(_port(sim)), await RawRtsp.connect(_port(sim))
    await _play_tcp(first, sim.rtsp_url("open"))
    await _play_tcp(second, sim.rtsp_url("open"))
    a = [p for p in await first.read_packets(1.2) if p.channel == 0]
    b = [p for p in await second.read_packets(0.1) + await second.read_packets(0.5) if p.channel == 0]
    assert a and b
    assert a[0].ssrc != b[0].ssrc
    assert {p.payload for p in a} & {p.payload for p in b}  # the same encoded pictures...
    assert {p.seq for p in a[:5]} != {p.seq for p in b[:5]}  # ...under their own numbering
    await first.close()
    await second.close()
