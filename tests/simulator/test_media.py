"""Every codec over TCP and UDP, read by PyAV and by Debian's ffprobe (the simulator in a child process)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator

import av
import pytest

from vms_camsim import AuthMode, Codec, SimulatorConfig, SimulatorProcess, decode_stamp, spawn_simulator

from .helpers import small_camera

pytestmark = pytest.mark.slow

CODECS = [Codec.H264, Codec.H265, Codec.MJPEG]
READ_SECONDS = 2.0


@pytest.fixture(scope="module")
def child(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    config = SimulatorConfig(rtsp_port=0, onvif_port=None,
                             cameras=[*(small_camera(f"cam-{codec.value}", codec) for codec in CODECS),
                                      small_camera("digest", auth=AuthMode.DIGEST, sub=None),
                                      small_camera("basic", auth=AuthMode.BASIC, sub=None)])
    process = spawn_simulator(config, tmp_path_factory.mktemp("camsim"))
    yield process
    process.stop()


def _read_with_pyav(url: str, transport: str, seconds: float) -> tuple[list[av.VideoFrame], float, str]:
    """Decode for ``seconds`` after a 1 s warm-up; returns the frames, their wall time and the codec.

    The warm-up absorbs the burst of frames PyAV buffered while probing the stream, so the rate
    measured afterwards is the rate the simulator delivers.
    """
    options = {"rtsp_transport": transport, "timeout": "5000000"}
    frames: list[av.VideoFrame] = []
    with av.open(url, options=options, timeout=10) as container:
        stream = container.streams.video[0]
        codec_name = stream.codec_context.name
        started = time.monotonic()
        first = 0.0
        for frame in container.decode(stream):
            now = time.monotonic()
            if now - started < 1.0:
                continue
            if not frames:
                first = now
            frames.append(frame)
            if now - first >= seconds:
                break
        return frames, time.monotonic() - first, codec_name


@pytest.mark.parametrize("transport", ["tcp", "udp"])
@pytest.mark.parametrize("codec", CODECS)
def test_pyav_reads_stream(child: SimulatorProcess, codec: Codec, transport: str) -> None:
    url = child.rtsp_url(f"cam-{codec.value}").replace("rtsp://", "rtsp://admin:admin@")
    frames, elapsed, codec_name = _read_with_pyav(url, transport, READ_SECONDS)
    assert codec_name == {"h264": "h264", "h265": "hevc", "mjpeg": "mjpeg"}[codec.value]
    assert (frames[0].width, frames[0].height) == (320, 176)
    fps = (len(frames) - 1) / elapsed
    assert 22 <= fps <= 28, f"delivered {fps:.1f} fps"
    pts = [f.time for f in frames if f.time is not None]
    spacing = (pts[-1] - pts[0]) / (len(pts) - 1)
    assert abs(spacing - 0.04) < 0.004  # RTP timestamps advance at 25 fps
    stamps = [decode_stamp(f.to_ndarray(format="rgb24")) for f in frames[-10:]]
    readable = [s for s in stamps if s is not None]
    assert len(readable) >= 8, "capture-time stamp should survive encoding"
    now_ms = int(time.time() * 1000)
    assert all(0 <= s.latency_ms(now_ms) < 1500 for s in readable)


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe (Debian package ffmpeg) not installed")
@pytest.mark.parametrize("transport", ["tcp", "udp"])
@pytest.mark.parametrize("codec", CODECS)
def test_ffprobe_reads_stream(child: SimulatorProcess, codec: Codec, transport: str) -> None:
    url = child.rtsp_url(f"cam-{codec.value}").replace("rtsp://", "rtsp://admin:admin@")
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", transport, "-select_streams", "v", "-count_frames",
         "-read_intervals", "%+2", "-show_entries", "stream=codec_name,width,height,r_frame_rate,nb_read_frames",
         "-of", "json", url], capture_output=True, text=True, timeout=30, check=True)
    stream = json.loads(result.stdout)["streams"][0]
    assert stream["codec_name"] == {"h264": "h264", "h265": "hevc", "mjpeg": "mjpeg"}[codec.value]
    assert (stream["width"], stream["height"]) == (320, 176)
    assert stream["r_frame_rate"] == "25/1"
    assert abs(int(stream["nb_read_frames"]) - 50) <= 3  # 2 s of stream time at 25 fps


@pytest.mark.parametrize("codec", CODECS)
def test_sub_stream_has_its_own_settings(child: SimulatorProcess, codec: Codec) -> None:
    url = child.rtsp_url(f"cam-{codec.value}", "sub").replace("rtsp://", "rtsp://admin:admin@")
    frames, elapsed, _ = _read_with_pyav(url, "tcp", 1.5)
    assert (frames[0].width, frames[0].height) == (160, 96)
    assert 8 <= (len(frames) - 1) / elapsed <= 12


@pytest.mark.parametrize("camera", ["digest", "basic"])
def test_pyav_authenticates_and_wrong_password_is_refused(child: SimulatorProcess, camera: str) -> None:
    url = child.rtsp_url(camera)
    frames, _, _ = _read_with_pyav(url.replace("rtsp://", "rtsp://admin:admin@"), "tcp", 0.5)
    assert frames
    with pytest.raises(av.FFmpegError, match=r"401|Unauthorized"):
        _read_with_pyav(url.replace("rtsp://", "rtsp://admin:wrong@"), "tcp", 0.5)
