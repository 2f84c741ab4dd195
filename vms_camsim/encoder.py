"""Turning scene pictures into access units: once per loop, or live for PTZ cameras.

A hundred cameras showing the same scene must not cost a hundred encoders, so a stream's loop is
encoded once (in a worker thread) and shared. Loops last whole seconds, start with a keyframe and
have a fixed GOP, so replaying them back to back gives a valid stream. Every function here blocks
(PyAV encodes and decodes on the calling thread); the ``*_blocking`` names say so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import cast

import av
import cv2
import numpy as np
from av.video.codeccontext import VideoCodecContext

from vms_camsim.barcode import Frame, draw_stamp
from vms_camsim.config import Codec, StreamConfig
from vms_camsim.errors import EncodeError
from vms_camsim.scenes import FULL_VIEW, Scene, View

log = logging.getLogger(__name__)

# Encoder banners (SEI) and access unit delimiters are useless over RTP, and the SEI is big.
_H264_DROP = (6, 9)
_H265_DROP = (35, 39, 40)


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One encoded picture: NAL units without start codes (or one JPEG image for MJPEG)."""

    nals: tuple[bytes, ...]
    keyframe: bool


@dataclass
class ParameterSets:
    """Out-of-band decoder configuration for the SDP (base64 in sprop-* attributes)."""

    vps: bytes = b""
    sps: bytes = b""
    pps: bytes = b""


@dataclass
class EncodedLoop:
    """A pre-encoded loop of ``len(units)`` frames at ``fps``, lasting ``period_s`` whole seconds."""

    stream: StreamConfig
    units: list[AccessUnit]
    params: ParameterSets = field(default_factory=ParameterSets)

    @property
    def period_s(self) -> int:
        """Loop length in whole seconds (the stamp period)."""
        return len(self.units) // self.stream.fps


def split_annexb(data: bytes) -> list[bytes]:
    """Split an Annex B byte stream into NAL units (start codes removed)."""
    nals: list[bytes] = []
    i, n, start = 0, len(data), -1
    while i + 3 <= n:
        if data[i] == 0 and data[i + 1] == 0 and data[i + 2] == 1:
            if start >= 0:
                nals.append(data[start:i].rstrip(b"\x00"))
            i += 3
            start = i
        else:
            i += 1
    if start >= 0 and start < n:
        nals.append(data[start:])
    return [nal for nal in nals if nal]


def nal_type(codec: Codec, nal: bytes) -> int:
    """NAL unit type of an H.264 or H.265 NAL."""
    return (nal[0] >> 1) & 0x3F if codec is Codec.H265 else nal[0] & 0x1F


def _open_encoder(stream: StreamConfig) -> VideoCodecContext:
    gop = max(1, round(stream.gop_seconds * stream.fps))
    name = {Codec.H264: "libx264", Codec.H265: "libx265", Codec.MJPEG: "mjpeg"}[stream.codec]
    ctx = cast(VideoCodecContext, av.CodecContext.create(name, "w"))
    ctx.width, ctx.height = stream.width, stream.height
    ctx.time_base = Fraction(1, stream.fps)
    ctx.framerate = Fraction(stream.fps, 1)
    ctx.bit_rate = stream.bitrate_kbps * 1000
    kbps = stream.bitrate_kbps
    if stream.codec is Codec.H264:
        ctx.pix_fmt = "yuv420p"
        ctx.options = {"preset": "veryfast", "tune": "zerolatency", "x264-params":
                       f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:repeat-headers=1:"
                       f"vbv-maxrate={kbps}:vbv-bufsize={kbps}:nal-hrd=cbr:force-cfr=1"}
    elif stream.codec is Codec.H265:
        ctx.pix_fmt = "yuv420p"
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "x265-params":
                       f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:repeat-headers=1:"
                       f"vbv-maxrate={kbps}:vbv-bufsize={kbps}:strict-cbr=1:log-level=error"}
    else:
        raise EncodeError("MJPEG is encoded with JpegEncoder")
    try:
        ctx.open()
    except av.FFmpegError as exc:
        raise EncodeError(f"cannot open {name} encoder: {exc}") from exc
    return ctx


class JpegEncoder:
    """Baseline 4:2:0 JPEG with standard Huffman tables, as RFC 2435 receivers expect.

    FFmpeg's MJPEG encoder cannot go below ~10 Mbit/s at 1080p (its quantiser tops out at 31),
    so libjpeg (through OpenCV) is used with a quality that follows the target frame size.
    """

    def __init__(self, stream: StreamConfig) -> None:
        self.stream = stream
        self.params = ParameterSets()
        self._target = stream.bitrate_kbps * 1000 / 8 / stream.fps
        self._quality = 60.0
        self._first = True

    def encode_blocking(self, rgb: Frame) -> list[AccessUnit]:
        """Encode one frame as a JPEG image and nudge the quality towards the bitrate target."""
        bgr: Frame = np.ascontiguousarray(rgb[:, :, ::-1])
        data = self._encode_once(bgr)
        if self._first:  # settle the quality on the first picture instead of drifting for seconds
            self._first = False
            for _ in range(5):
                data = self._encode_once(bgr)
        return [AccessUnit((data,), True)]

    def _encode_once(self, bgr: Frame) -> bytes:
        params = [cv2.IMWRITE_JPEG_QUALITY, round(self._quality), cv2.IMWRITE_JPEG_OPTIMIZE, 0]
        ok, data = cv2.imencode(".jpg", bgr, params)
        if not ok:
            raise EncodeError("JPEG encoding failed")
        self._quality = min(95.0, max(3.0, self._quality * (self._target / len(data)) ** 0.8))
        return bytes(data.tobytes())

    def flush_blocking(self) -> list[AccessUnit]:
        """Nothing is buffered in a JPEG encoder."""
        return []


class FrameEncoder:
    """Encodes RGB frames into access units with one codec context (not thread-safe)."""

    def __init__(self, stream: StreamConfig) -> None:
        self.stream = stream
        self.params = ParameterSets()
        self._ctx = _open_encoder(stream)
        self._pts = 0

    def encode_blocking(self, rgb: Frame) -> list[AccessUnit]:
        """Encode one frame; returns the access units the encoder emitted (usually one)."""
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame = frame.reformat(format=self._ctx.pix_fmt)
        frame.pts = self._pts
        frame.time_base = self._ctx.time_base
        self._pts += 1
        return [self._to_unit(bytes(p), p.is_keyframe) for p in self._ctx.encode(frame)]

    def flush_blocking(self) -> list[AccessUnit]:
        """Drain delayed frames at the end of a loop."""
        return [self._to_unit(bytes(p), p.is_keyframe) for p in self._ctx.encode(None)]

    def _to_unit(self, data: bytes, keyframe: bool) -> AccessUnit:
        codec = self.stream.codec
        kept: list[bytes] = []
        for nal in split_annexb(data):
            kind = nal_type(codec, nal)
            if kind in (_H265_DROP if codec is Codec.H265 else _H264_DROP):
                continue
            self._remember_params(kind, nal)
            kept.append(nal)
        return AccessUnit(tuple(kept), keyframe)

    def _remember_params(self, kind: int, nal: bytes) -> None:
        if self.stream.codec is Codec.H264:
            if kind == 7:
                self.params.sps = nal
            elif kind == 8:
                self.params.pps = nal
        elif kind == 32:
            self.params.vps = nal
        elif kind == 33:
            self.params.sps = nal
        elif kind == 34:
            self.params.pps = nal


def overlay_blocking(frame: Frame, value_ms: int, period_s: int, label: str) -> None:
    """Draw the machine-readable stamp and a human-readable clock line into ``frame``."""
    draw_stamp(frame, value_ms, period_s)
    scale = max(0.4, frame.shape[1] / 1280)
    y = int(frame.shape[0] - 12 * scale)
    cv2.putText(frame, label, (int(10 * scale), y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                max(1, int(2 * scale)))


def scene_frames_blocking(scene: Scene, stream: StreamConfig, seconds: int,
                          view: View = FULL_VIEW) -> Iterator[Frame]:
    """Yield the frames of one scene loop with the loop-position stamp on each."""
    count = seconds * stream.fps
    for i in range(count):
        frame = scene.render(i / count, stream.width, stream.height, view)
        ms = i * 1000 // stream.fps
        overlay_blocking(frame, ms, seconds, f"{scene.kind.value} T+{ms / 1000:07.3f}s")
        yield frame


def make_encoder(stream: StreamConfig) -> FrameEncoder | JpegEncoder:
    """The right encoder for the stream's codec (raises EncodeError if it cannot be opened)."""
    return JpegEncoder(stream) if stream.codec is Codec.MJPEG else FrameEncoder(stream)


def encode_loop_blocking(frames: Iterator[Frame], stream: StreamConfig) -> EncodedLoop:
    """Encode a whole loop. The frame count must be a whole number of seconds at ``stream.fps``."""
    encoder = make_encoder(stream)
    units: list[AccessUnit] = []
    for frame in frames:
        units.extend(encoder.encode_blocking(frame))
    units.extend(encoder.flush_blocking())
    if not units or not units[0].keyframe:
        raise EncodeError("encoder did not start the loop with a keyframe")
    total = sum(len(n) for u in units for n in u.nals)
    kbps = total * 8 * stream.fps / len(units) / 1000
    log.info("encoded %s loop %dx%d@%d: %d frames, %.0f kbit/s", stream.codec.value, stream.width,
             stream.height, stream.fps, len(units), kbps)
    if kbps > 1.5 * stream.bitrate_kbps:
        # JPEG has a floor of roughly 0.15 bit/pixel even at the lowest quality.
        log.warning("%s %dx%d cannot go as low as %d kbit/s; it runs at %.0f kbit/s", stream.codec.value,
                    stream.width, stream.height, stream.bitrate_kbps, kbps)
    return EncodedLoop(stream=stream, units=units, params=encoder.params)


def decode_loop_picture_blocking(loop: EncodedLoop, index: int) -> Frame:
    """Decode picture ``index`` of a loop (from the keyframe before it) into an RGB frame.

    Used for snapshots, so they show exactly what the stream shows. Raises EncodeError when the
    loop cannot be decoded.
    """
    if loop.stream.codec is Codec.MJPEG:
        picture = cv2.imdecode(np.frombuffer(loop.units[index].nals[0], np.uint8), cv2.IMREAD_COLOR)
        if picture is None:
            raise EncodeError("could not decode JPEG picture")
        return np.ascontiguousarray(picture[:, :, ::-1])
    start = max(i for i in range(index + 1) if loop.units[i].keyframe)
    decoder = av.CodecContext.create("hevc" if loop.stream.codec is Codec.H265 else "h264", "r")
    last: Frame | None = None
    try:
        for unit in loop.units[start : index + 1]:
            data = b"".join(b"\x00\x00\x00\x01" + nal for nal in unit.nals)
            for frame in decoder.decode(av.Packet(data)):
                last = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
        for frame in decoder.decode(None):
            last = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
    except av.FFmpegError as exc:
        raise EncodeError(f"could not decode loop picture {index}: {exc}") from exc
    if last is None:
        raise EncodeError(f"loop picture {index} did not decode")
    return last
