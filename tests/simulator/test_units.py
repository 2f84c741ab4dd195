"""Building blocks: stamp codec, scenes and ground truth, RTP packetisers, PTZ mechanics, config."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from vms_camsim import ConfigError, SceneKind
from vms_camsim.barcode import FrameStamp, decode_stamp, draw_stamp
from vms_camsim.config import PtzLimits, build_config, expand_fleet, load_fleet_file
from vms_camsim.ptz import PtzState
from vms_camsim.rtp import (
    packetize_h264,
    packetize_h265,
    packetize_jpeg,
    parse_jpeg,
    sender_report,
)
from vms_camsim.scenes import make_scene


@pytest.mark.parametrize(("width", "value", "period"), [(320, 0, 10), (1920, 9_999, 10), (640, 1 << 39, 0)])
def test_stamp_round_trip(width: int, value: int, period: int) -> None:
    frame = np.full((width * 9 // 16, width, 3), 128, np.uint8)
    draw_stamp(frame, value, period)
    stamp = decode_stamp(frame)
    assert stamp is not None and stamp.value_ms == value
    assert stamp.period_ms == (period * 1000 if period else 1 << 40)
    assert decode_stamp(np.zeros_like(frame)) is None


def test_stamp_survives_jpeg_and_gives_latency() -> None:
    frame = np.full((180, 320, 3), 90, np.uint8)
    now_ms = int(time.time() * 1000)
    draw_stamp(frame, (now_ms - 250) % 10_000, 10)
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 30])
    assert ok
    decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    assert decoded is not None
    stamp = decode_stamp(decoded)
    assert stamp is not None
    assert stamp.latency_ms(now_ms) == 250
    assert FrameStamp(value_ms=500, period_ms=1000).capture_time_ms(10_700) == 10_500


def test_scene_ground_truth() -> None:
    people = make_scene(SceneKind.PEOPLE).timeline(10, 5)
    labels = [e["label"] for e in people["events"]]
    assert "person enters zone A" in labels
    door = [e["label"] for e in people["events"] if e.get("kind") in ("door", "access", "tailgating")]
    assert door == ["door opens", "access granted to person-1", "person-2 tailgates", "door closes",
                    "door opens", "access granted to person-3", "door closes"]
    person = next(o for o in people["objects"] if o["id"] == "person-1")
    assert person["class"] == "person" and len(person["boxes"]) > 10
    t, x, _y, w, h = person["boxes"][0]
    assert 0 <= t < 10 and 0 <= x <= 1 and 0 < w < 0.1 and 0 < h < 0.2
    fire = make_scene(SceneKind.FIRE).timeline(60, 5)
    assert {"t": 30.0, "label": "fire starts", "kind": "fire"} in fire["events"]
    tamper = make_scene(SceneKind.TAMPER).timeline(60, 5)
    assert {"t": 45.0, "label": "camera covered starts", "kind": "cover"} in tamper["events"]


def test_scene_render_shows_tampering() -> None:
    scene = make_scene(SceneKind.TAMPER)
    normal = scene.render(0.2, 320, 176)
    covered = scene.render(0.8, 320, 176)
    assert normal.shape == (176, 320, 3)
    assert covered.std() < 1 and normal.std() > 20
    assert scene.motion_at(0.2) and scene.tamper_at(0.8) == "cover" and scene.tamper_at(0.2) is None


def test_fu_a_fragments_reassemble() -> None:
    nal = bytes([0x65]) + bytes(range(256)) * 20
    packets = packetize_h264(nal, 1000)
    assert len(packets) > 1 and all(len(p) <= 1000 for p in packets)
    assert packets[0][0] & 0x1F == 28 and packets[0][1] & 0x80 and packets[-1][1] & 0x40
    assert bytes([(packets[0][0] & 0xE0) | (packets[0][1] & 0x1F)]) + b"".join(p[2:] for p in packets) == nal
    assert packetize_h264(b"\x67small") == [b"\x67small"]


def test_h265_fragments_reassemble() -> None:
    nal = bytes([19 << 1, 1]) + bytes(range(256)) * 20
    packets = packetize_h265(nal, 1000)
    assert all((p[0] >> 1) & 0x3F == 49 for p in packets)
    assert packets[0][2] == 0x80 | 19 and packets[-1][2] == 0x40 | 19
    assert nal[:2] + b"".join(p[3:] for p in packets) == nal


def test_jpeg_packets_carry_tables_and_offsets() -> None:
    ok, data = cv2.imencode(".jpg", np.random.default_rng(1).integers(0, 255, (176, 320, 3), np.uint8))
    assert ok
    info = parse_jpeg(data.tobytes())
    assert (info.width, info.height, info.rtp_type) == (320, 176, 1)
    packets = packetize_jpeg(data.tobytes(), 1000)
    offsets = [int.from_bytes(p[1:4], "big") for p in packets]
    assert offsets[0] == 0 and offsets == sorted(offsets)
    assert packets[0][5] == 255 and packets[0][6:8] == bytes((40, 22))
    assert struct.unpack_from(">H", packets[0], 10)[0] == 128  # two 64-byte tables in-band
    with pytest.raises(Exception, match="not a JPEG"):
        parse_jpeg(b"garbage")


def test_sender_report_layout() -> None:
    report = sender_report(0x1234, 1_700_000_000.5, 99, packets=3, octets=4000, cname="cam@sim")
    assert report[1] == 200 and report[29] == 202
    ssrc, ntp_s, ntp_f, rtp = struct.unpack_from(">IIII", report, 4)
    assert (ssrc, ntp_s - 2_208_988_800, rtp) == (0x1234, 1_700_000_000, 99)
    assert abs(ntp_f / 2**32 - 0.5) < 1e-6
    assert len(report) % 4 == 0


def test_ptz_moves_at_speed_within_limits() -> None:
    ptz = PtzState(PtzLimits(max_speed=1.0, pan_max=0.5))
    ptz.continuous((1.0, 0.0, 0.0))
    now = time.time()
    assert ptz.position(now + 0.25)[0] == pytest.approx(0.25, abs=0.02)
    assert ptz.position(now + 5)[0] == 0.5  # the limit
    ptz.absolute((-0.5, 0.2, 0.5), speed=(0.5, 0.5, 0.5))
    assert ptz.moving() == (True, True)
    assert ptz.position(time.time() + 3) == pytest.approx((-0.5, 0.2, 0.5))
    wide, tight = ptz.view(time.time()), None
    ptz.absolute((0, 0, 1.0))
    tight = ptz.view(time.time() + 3)
    assert tight.w < wide.w


def test_fleet_file_with_defaults_and_counts(tmp_path: Path) -> None:
    yaml_file = tmp_path / "fleet.yaml"
    yaml_file.write_text("""
rtsp_port: 0
defaults: {manufacturer: Acme, password: s3cret, main: {codec: h265, width: 1280, height: 720}}
cameras:
  - {name: lobby, count: 3}
  - {name: gate, ptz: true, main: {codec: mjpeg, width: 640, height: 360}, sub: null}
""")
    config = build_config(expand_fleet(load_fleet_file(yaml_file)))
    assert [c.name for c in config.cameras] == ["lobby1", "lobby2", "lobby3", "gate"]
    assert config.cameras[0].main.codec.value == "h265" and config.cameras[0].password == "s3cret"
    assert config.cameras[3].ptz and config.cameras[3].sub is None
    toml_file = tmp_path / "fleet.toml"
    toml_file.write_text('[[cameras]]\nname = "cam1"\nauth = "digest"\n')
    assert build_config(expand_fleet(load_fleet_file(toml_file))).cameras[0].auth.value == "digest"


@pytest.mark.parametrize("data", [
    {"cameras": [{"name": "a"}, {"name": "a"}]},
    {"cameras": [{"name": "a", "main": {"codec": "mjpeg", "width": 322, "height": 180}}]},
    {"cameras": [{"name": "bad name!"}]},
    {"cameras": [{"name": "a", "scene": "file"}]},
    {"cameras": [{"name": "a", "colour": "red"}]},
])
def test_invalid_configs_are_rejected(data: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        build_config(data)


def test_unreadable_fleet_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("cameras: [unclosed")
    with pytest.raises(ConfigError, match="not valid"):
        load_fleet_file(broken)
    with pytest.raises(ConfigError, match="cannot read"):
        load_fleet_file(tmp_path / "missing.toml")


@pytest.mark.parametrize("codec", ["h264", "h265", "mjpeg"])
def test_loop_pictures_decode_to_their_stamp(codec: str) -> None:
    from vms_camsim import StreamConfig
    from vms_camsim.encoder import decode_loop_picture_blocking, encode_loop_blocking, scene_frames_blocking

    stream = StreamConfig.model_validate({"codec": codec, "width": 320, "height": 176, "fps": 25,
                                          "bitrate_kbps": 400})
    loop = encode_loop_blocking(scene_frames_blocking(make_scene(SceneKind.PEOPLE), stream, 2), stream)
    assert len(loop.units) == 50 and loop.units[0].keyframe and loop.period_s == 2
    stamp = decode_stamp(decode_loop_picture_blocking(loop, 37))
    assert stamp == FrameStamp(value_ms=37 * 40, period_ms=2000)
