"""Camera tampering: covered lens, defocus, redirection and sudden global change, each its own reason.

The model learns a reference of the normal view (grey thumbnail, sharpness) and compares every frame to
it. The reference only learns from frames judged normal, so a tampered view never becomes "normal".
"""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import Field

from vms_server.analytics.base import AnalyticsModel, CameraContext, ModelConfig, Requirements
from vms_server.analytics.jobs import VideoJob
from vms_server.analytics.plugins._frames import new_frames, small_grey
from vms_server.analytics.types import Detection, Frame, Image, Priority, Rules

REASONS = ("covered", "defocus", "redirected", "global_change")


class TamperingConfig(ModelConfig):
    covered_std: float = Field(12.0, gt=0, description="Grey-level spread under which the lens counts as covered")
    defocus_ratio: float = Field(0.6, gt=0, lt=1, description="Sharpness below this share of normal is defocus")
    redirect_similarity: float = Field(0.55, gt=-1, lt=1,
                                       description="Correlation with the reference view under which it moved")
    global_change: float = Field(0.35, gt=0, lt=1, description="Brightness jump (share) counted as sudden change")
    learning_rate: float = Field(0.02, gt=0, le=1, description="How fast the reference follows normal frames")
    warmup_frames: int = Field(15, ge=1, le=1000, description="Frames used to learn the first reference")


def sharpness(grey: np.ndarray) -> float:
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two equally sized grey pictures (1: identical structure)."""
    a = a.astype(np.float32) - float(a.mean())
    b = b.astype(np.float32) - float(b.mean())
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


class TamperingModel(AnalyticsModel):
    name = "tampering"
    title = "Camera tampering"
    event_type = "tampering"
    batchable = True
    default_priority = Priority.HIGH
    requirements = Requirements(min_height=360, min_bitrate_kbps=512, min_duration_s=2.0, overlap_s=0.0)
    default_rules = Rules(confidence=0.5, min_duration_s=1.5, merge_gap_s=1.0, min_hits=3)
    config_model = TamperingConfig

    def process(self, job: VideoJob, ctx: CameraContext) -> list[Detection]:
        cfg = ctx.config
        assert isinstance(cfg, TamperingConfig)
        out = []
        for frame in new_frames(job.decoded_frames(), ctx):
            det = self._frame(frame, cfg, ctx)
            if det is not None:
                out.append(det)
        return out

    def _frame(self, frame: Frame, cfg: TamperingConfig, ctx: CameraContext) -> Detection | None:
        grey = small_grey(frame.image, 128)
        sharp_grey = cv2.cvtColor(cv2.resize(frame.image, (320, 240), interpolation=cv2.INTER_AREA),
                                  cv2.COLOR_RGB2GRAY)
        sharp = sharpness(sharp_grey)
        st = ctx.state
        if st.get("seen", 0) < cfg.warmup_frames:
            st["seen"] = st.get("seen", 0) + 1
            st["ref"] = grey.astype(np.float32) if "ref" not in st else 0.8 * st["ref"] + 0.2 * grey
            st["sharp"] = sharp if "sharp" not in st else 0.8 * st["sharp"] + 0.2 * sharp
            st["mean"] = float(grey.mean())
            return None
        reason, confidence = self._judge(grey, sharp, cfg, st)
        previous_mean = st["mean"]
        st["mean"] = float(grey.mean())
        if reason is None:
            rate = cfg.learning_rate
            st["ref"] = (1 - rate) * st["ref"] + rate * grey
            st["sharp"] = (1 - rate) * st["sharp"] + rate * sharp
            return None
        if reason == "global_change" and abs(st["mean"] - previous_mean) < 1:
            # The change has settled into a new normal (lights stayed on): adopt it.
            st["ref"] = grey.astype(np.float32)
            return None
        return Detection(self.name, self.event_type, frame.ts, confidence, None, None, key=reason,
                         details={"reason": reason}, frame=frame.image)

    def _judge(self, grey: Image, sharp: float, cfg: TamperingConfig,
               st: dict[str, object]) -> tuple[str | None, float]:
        ref = st["ref"]
        assert isinstance(ref, np.ndarray)
        ref_sharp = float(st["sharp"])  # type: ignore[arg-type]
        ref_mean = max(1.0, float(ref.mean()))
        if float(grey.std()) < cfg.covered_std:
            return "covered", min(1.0, 0.7 + 0.3 * (1 - float(grey.std()) / cfg.covered_std))
        sim = similarity(grey, ref)
        if sim < cfg.redirect_similarity:
            return "redirected", min(1.0, 0.6 + 0.4 * (cfg.redirect_similarity - sim))
        if ref_sharp > 0 and sharp < cfg.defocus_ratio * ref_sharp:
            return "defocus", min(1.0, 0.6 + 0.4 * (1 - sharp / (cfg.defocus_ratio * ref_sharp)))
        if abs(float(grey.mean()) - ref_mean) / ref_mean > cfg.global_change:
            return "global_change", 0.7
        return None, 0.0
