"""Video encoder changes (SetVideoEncoderConfiguration of Media and Media2): what may be asked, and
applying it to the stream.

A change is really applied: the camera's stream is re-encoded with the new resolution, frame rate,
bitrate, GOP length or codec (a loop from the shared feed cache, or a new live encoder for a PTZ
camera) before the answer goes out, so a stream opened after the answer has the new settings, and
sessions still playing the old stream are ended (rtsp_session) as a camera restarting its encoder
ends them; their clients reconnect. The choices are bounded (GetVideoEncoderConfigurationOptions
lists them) so that a client cannot make the simulator encode 4K at 60 fps from a small fleet file:
resolutions no larger than the fleet file's main stream, at most MAX_FPS, MAX_GOP_S between
keyframes. Anything else is env:Sender/ter:InvalidArgVal/ter:ConfigModify.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import ValidationError

from vms_camsim.camera import CameraRuntime, reconfigure_stream
from vms_camsim.config import Codec, StreamConfig
from vms_camsim.errors import EncodeError
from vms_camsim.onvif.soap import SoapFault, invalid_arg

log = logging.getLogger(__name__)

ENCODINGS = {"H264": Codec.H264, "H265": Codec.H265, "JPEG": Codec.MJPEG}
NAMES = {codec: name for name, codec in ENCODINGS.items()}
QUALITY = 5.0  # the only quality offered: the bitrate, not a quality scale, drives the encoders
MAX_FPS = 30
MAX_GOP_S = 10
BITRATE_KBPS = (32, 16_000)
_SIZES = ((3840, 2160), (2560, 1440), (1920, 1080), (1280, 720), (960, 544), (640, 360), (320, 176),
          (160, 96))


def config_modify(reason: str) -> SoapFault:
    """The fault for settings the simulator cannot take."""
    return invalid_arg("ConfigModify", reason)


def gov_length(stream: StreamConfig) -> int:
    """Frames between keyframes."""
    return max(1, round(stream.gop_seconds * stream.fps))


def resolutions(camera: CameraRuntime, codec: Codec) -> list[tuple[int, int]]:
    """Sizes an encoder may take: the fleet file's own, the current ones and the standard sizes no
    larger than the main stream's (MJPEG over RTP: multiples of 8, at most 2040)."""
    main, sub = camera.config.main, camera.config.sub
    sizes = {(s.width, s.height) for s in (main, sub) if s is not None}
    sizes |= {(feed.stream.width, feed.stream.height) for feed in camera.feeds.values()}
    sizes |= {(w, h) for w, h in _SIZES if w <= main.width and h <= main.height}
    if codec is Codec.MJPEG:
        sizes = {(w, h) for w, h in sizes if w % 8 == 0 and h % 8 == 0 and max(w, h) <= 2040}
    return sorted(sizes, reverse=True)


def fps_range(stream: StreamConfig) -> tuple[int, int]:
    """Frame rates offered (the configured one even above MAX_FPS)."""
    return 1, max(MAX_FPS, stream.fps)


def gov_range(stream: StreamConfig) -> tuple[int, int]:
    """GOP lengths offered at the stream's frame rate."""
    return 1, MAX_GOP_S * stream.fps


@dataclass(frozen=True, slots=True)
class Wanted:
    """The settings a Set request names (None: keep the current one)."""

    encoding: str | None = None
    width: float | None = None
    height: float | None = None
    fps: float | None = None
    bitrate_kbps: float | None = None
    gov: float | None = None
    quality: float | None = None
    encoding_interval: float | None = None


def _whole(value: float | None, name: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if value != int(value) or not low <= value <= high:
        raise config_modify(f"{name} {value:g} is not offered ({low} to {high})")
    return int(value)


def changed_stream(camera: CameraRuntime, token: str, wanted: Wanted, codecs: set[Codec]) -> StreamConfig:
    """The stream settings a request asks for, checked against the options. Raises ter:ConfigModify."""
    current = camera.feeds[token].stream
    codec = current.codec
    if wanted.encoding is not None:
        if ENCODINGS.get(wanted.encoding) not in codecs:
            offered = ", ".join(NAMES[c] for c in sorted(codecs, key=NAMES.__getitem__))
            raise config_modify(f"encoding {wanted.encoding!r} is not offered here ({offered})")
        codec = ENCODINGS[wanted.encoding]
    if wanted.quality is not None and wanted.quality != QUALITY:
        raise config_modify(f"quality {wanted.quality:g} is not offered (only {QUALITY:g})")
    if wanted.encoding_interval not in (None, 1.0):
        raise config_modify("EncodingInterval is always 1 (lower FrameRateLimit instead)")
    width = _whole(wanted.width, "width", 1, 4096) or current.width
    height = _whole(wanted.height, "height", 1, 2160) or current.height
    if (width, height) not in resolutions(camera, codec):
        raise config_modify(f"resolution {width}x{height} is not offered for {NAMES[codec]}")
    fps = _whole(wanted.fps, "FrameRateLimit", *fps_range(current)) or current.fps
    bitrate = _whole(wanted.bitrate_kbps, "BitrateLimit", *BITRATE_KBPS) or current.bitrate_kbps
    gov = _whole(wanted.gov, "GovLength", 1, MAX_GOP_S * fps)
    gop_seconds = gov / fps if gov is not None else current.gop_seconds
    try:
        return StreamConfig(codec=codec, width=width, height=height, fps=fps, bitrate_kbps=bitrate,
                            gop_seconds=gop_seconds)
    except ValidationError as exc:
        raise config_modify(f"settings refused: {exc.errors()[0]['msg']}") from None


async def apply_stream(camera: CameraRuntime, token: str, stream: StreamConfig) -> None:
    """Re-encode the stream with ``stream`` unless it already has those settings."""
    if camera.feeds[token].stream == stream:
        return
    try:
        await reconfigure_stream(camera, token, stream)
    except EncodeError as exc:
        raise config_modify(f"the encoder cannot take these settings: {exc}") from None
    log.info("camera %s stream %s re-encoded: %s", camera.name, token, stream)
