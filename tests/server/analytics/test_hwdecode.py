"""Hardware decode for analytics (issue #15): on this CPU-only machine every hardware path must fail to open and
fall back to software with the reason reported; a decoder failing mid-stream falls back without losing frames
after the next keyframe."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import av
import numpy as np
import pytest
from pydantic import ValidationError

from vms_server.analytics.config import AnalyticsSettings
from vms_server.analytics.hwdecode import Decoder, HwDecodeFailed, available, software_context
from vms_server.analytics.ingest_source import IngestSource
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket


def _packets(count: int = 30, gop: int = 10) -> tuple[bytes | None, list[tuple[bytes, bool]]]:
    """H.264 packets of a moving picture, a keyframe every `gop` frames."""
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = 320, 240, "yuv420p"
    enc.time_base = Fraction(1, 15)
    enc.gop_size = gop
    enc.options = {"tune": "zerolatency", "preset": "ultrafast", "x264-params": "repeat-headers=1"}
    out: list[tuple[bytes, bool]] = []
    for i in range(count):
        img = np.zeros((240, 320, 3), np.uint8)
        img[:, (i * 7) % 320:] = 200
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        out += [(bytes(p), bool(p.is_keyframe)) for p in enc.encode(frame)]
    out += [(bytes(p), bool(p.is_keyframe)) for p in enc.encode(None)]
    return None, out


def _decode_all(decoder: Decoder, packets: list[tuple[bytes, bool]]) -> list[Any]:
    frames: list[Any] = []
    for data, _key in packets:
        frames += decoder.decode(data)
    return frames


def test_cuda_without_a_device_falls_back_to_software_and_says_why() -> None:
    extradata, packets = _packets()
    soft = _decode_all(Decoder("h264", extradata, "off"), packets)
    cuda = Decoder("h264", extradata, "cuda")
    assert cuda.path.startswith("software (cuda: ") and not cuda.hardware
    frames = _decode_all(cuda, packets)
    assert len(frames) == len(soft) > 0
    assert {(f.width, f.height) for f in frames} == {(320, 240)}


def test_off_is_software_and_auto_says_why_it_is_software_here() -> None:
    assert Decoder("h264", None, "off").path == "software"
    auto = Decoder("h264", None, "auto")
    assert auto.path.startswith("software (") and not auto.hardware
    for device_type in ("cuda", "vaapi", "qsv"):
        if device_type in available():
            assert f"{device_type}: " in auto.path


def test_an_invalid_setting_is_refused_clearly() -> None:
    with pytest.raises(ValidationError, match="hw_decode"):
        AnalyticsSettings(hw_decode="gpu")  # type: ignore[arg-type]
    assert AnalyticsSettings().hw_decode == "off"
    assert AnalyticsSettings(hw_decode="auto", hw_device="/dev/dri/renderD128").hw_device == "/dev/dri/renderD128"


class _FailsMidStream:
    """A real software decoder standing in for a hardware one, that breaks after `ok` packets (as a GPU decoder
    does when the device is lost)."""

    def __init__(self, codec: str, extradata: bytes | None, ok: int) -> None:
        self.inner, self.left = software_context(codec, extradata), ok

    def decode(self, packet: Any) -> Any:
        self.left -= 1
        if self.left < 0:
            raise RuntimeError("CUDA_ERROR_LAUNCH_FAILED")
        return self.inner.decode(packet)


class _Worker:
    health = None

    def add(self, consumer: Any) -> None:
        pass

    def remove(self, consumer: Any) -> None:
        pass


def test_a_hardware_decoder_failing_mid_stream_continues_in_software() -> None:
    extradata, packets = _packets(count=30, gop=10)
    decoder = Decoder("h264", extradata, "cuda", hw_factory=lambda c, e, t, d: _FailsMidStream(c, e, ok=5))
    assert decoder.path == "hw:cuda"
    frames: list[Any] = []
    failed_at, before = None, 0
    for i, (data, key) in enumerate(packets):
        if failed_at is not None and i > failed_at and not key and len(frames) == before:
            continue  # the caller waits for the next keyframe, as IngestSource does
        try:
            frames += decoder.decode(data)
        except HwDecodeFailed:
            failed_at, before = i, len(frames)
    assert failed_at is not None and 0 < before < len(frames)
    assert decoder.path.startswith("software (cuda failed mid-stream: CUDA_ERROR_LAUNCH_FAILED")
    assert len(frames) >= 20  # the GOPs after the failure decode in software


def test_ingest_source_reports_the_path_taken_per_camera() -> None:
    extradata, packets = _packets(count=20, gop=10)
    source = IngestSource(_Worker(), hw_decode="cuda")
    source.on_open(StreamInfo("h264", 320, 240, 15.0, Fraction(1, 15), extradata, None))
    for i, (data, key) in enumerate(packets):
        wall = 1_000_000 + i * 66_000
        source.on_packet(MediaPacket(packet=data, pts=i, dts=i, wall_us=wall, keyframe=key, size=len(data)))
    got = []
    for frame in source.frames():
        got.append(frame)
        if len(got) == 20:
            source.close()
    assert len(got) == 20 and got[0].image.shape == (240, 320, 3)
    assert source.decode_path.startswith("software (cuda: ")
