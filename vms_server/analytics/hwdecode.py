"""Hardware decode for analytics (issue #15): a decoder that tries PyAV's hwaccel (CUDA, VAAPI, QSV) and falls
back to software, so a node without a usable GPU still analyses, and says per camera which path it took.

The path is reported, not guessed: PyAV's own fallback is disabled (`allow_software_fallback=False`) so that a
device that cannot be opened raises here and the reason is kept (`software (cuda: <why>)`). A hardware decoder
that fails mid-stream is replaced by a software one for that camera (logged once); the caller restarts at the
next keyframe, so the job continues."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import av
from av.codec.hwaccel import HWAccel, hwdevices_available

logger = logging.getLogger(__name__)

AUTO_ORDER = ("cuda", "vaapi", "qsv")  # tried in this order by `auto`, where FFmpeg was built with them
MODES = ("off", "auto", *AUTO_ORDER, "drm", "amf", "videotoolbox", "d3d11va", "dxva2")


class HwDecodeFailed(RuntimeError):
    """The hardware decoder failed mid-stream; the decoder is now software and needs a keyframe."""


def available() -> list[str]:
    """Device types the loaded FFmpeg was built with (not that such a device exists on this machine)."""
    try:
        return [str(d) for d in hwdevices_available()]
    except Exception:  # an FFmpeg without hwcontext support: software only
        return []


def candidates(mode: str) -> list[str]:
    """Device types to try for a setting value, in order."""
    if mode == "off":
        return []
    if mode == "auto":
        built = available()
        return [d for d in AUTO_ORDER if d in built]
    return [mode]


def software_context(codec: str, extradata: bytes | None) -> Any:
    ctx = av.CodecContext.create(codec, "r")
    if extradata:
        ctx.extradata = extradata
    return ctx


def hardware_context(codec: str, extradata: bytes | None, device_type: str, device: str | None) -> Any:
    """A decoder on the device; raises when the device cannot be opened (no GPU, no driver, no permission)."""
    accel = HWAccel(device_type=device_type, device=device, allow_software_fallback=False)
    ctx = av.CodecContext.create(codec, "r", hwaccel=accel)
    if extradata:
        ctx.extradata = extradata
    ctx.open()
    if not getattr(ctx, "is_hwaccel", False):
        # PyAV opens a plain software decoder when FFmpeg's decoder has no config for this device type (seen
        # here with qsv, drm and amf for h264): that is not hardware decode, so say so rather than claim it.
        raise RuntimeError(f"FFmpeg's {codec} decoder does not use {device_type}")
    return ctx


class Decoder:
    """One camera stream's decoder. `path` is what status reports: `hw:<type>`, `software (<type>: <why>)`
    or `software`."""

    def __init__(self, codec: str, extradata: bytes | None, mode: str = "off", device: str | None = None,
                 hw_factory: Callable[[str, bytes | None, str, str | None], Any] = hardware_context) -> None:
        self.codec, self.extradata = codec, extradata
        self.ctx: Any = None
        self.path = "software"
        reasons: list[str] = []
        for device_type in candidates(mode):
            try:
                self.ctx = hw_factory(codec, extradata, device_type, device)
                self.path = f"hw:{device_type}"
                break
            except Exception as exc:  # any failure to open the device means software
                reasons.append(f"{device_type}: {_reason(exc)}")
        if self.ctx is None:
            if mode == "auto" and not reasons:
                reasons.append("auto: no hardware device type built into FFmpeg")
            if reasons:
                self.path = f"software ({'; '.join(reasons)})"
                logger.info("analytics decode of %s in software: %s", codec, "; ".join(reasons))
            self.ctx = software_context(codec, extradata)

    @property
    def hardware(self) -> bool:
        return self.path.startswith("hw:")

    def decode(self, data: bytes) -> list[Any]:
        """Frames of one packet, in system memory (PyAV downloads hardware frames). Raises
        av.error.FFmpegError for a bad packet, HwDecodeFailed once when the hardware decoder gave up."""
        if not self.hardware:
            return list(self.ctx.decode(av.Packet(data)))
        try:
            return list(self.ctx.decode(av.Packet(data)))
        except Exception as exc:  # any device failure: continue in software
            device_type = self.path[3:]
            self.path = f"software ({device_type} failed mid-stream: {_reason(exc)})"
            logger.warning("analytics hardware decode (%s) failed, continuing in software: %s", device_type, exc)
            self.ctx = software_context(self.codec, self.extradata)
            raise HwDecodeFailed(self.path) from exc


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:120]
