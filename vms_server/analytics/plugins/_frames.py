"""Small image helpers shared by the OpenCV models."""

from __future__ import annotations

import math

import cv2
import numpy as np

from vms_server.analytics.base import CameraContext, Zone
from vms_server.analytics.types import Frame, Image


def small_grey(image: Image, width: int = 160) -> Image:
    """Downscaled, slightly blurred grey picture: cheap to compare, insensitive to sensor noise."""
    h, w = image.shape[:2]
    height = max(1, round(h * width / w))
    grey = cv2.cvtColor(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    return np.asarray(cv2.GaussianBlur(grey, (5, 5), 0), dtype=np.uint8)


def zone_mask(zones: list[Zone], width: int, height: int) -> Image:
    """Mask of the zones (255 inside) at the given size."""
    mask = np.zeros((height, width), np.uint8)
    for zone in zones:
        pts = np.array([[round(x * (width - 1)), round(y * (height - 1))] for x, y in zone.points], np.int32)
        cv2.fillPoly(mask, [pts], 255)
    return mask


def new_frames(frames: list[Frame], ctx: CameraContext) -> list[Frame]:
    """Frames this camera's state has not seen yet: overlapping windows are not analysed twice by a
    stateful model (the state already carries the context the overlap is for)."""
    last = float(ctx.state.get("last_ts", float("-inf")))
    fresh = [f for f in frames if f.ts > last]
    if fresh:
        ctx.state["last_ts"] = fresh[-1].ts
    return fresh


def sampled(frames: list[Frame], ctx: CameraContext, fps: float) -> list[Frame]:
    """The new frames' first frame of each 1/fps tick of the frame clock: models at the same rate pick the same
    frames of a camera, whenever they were enabled (so person models share one detector run per frame)."""
    out = []
    last = ctx.state.get("tick")
    for frame in new_frames(frames, ctx):
        tick = math.floor(frame.ts * fps + 1e-6)
        if last is None or tick > last:
            out.append(frame)
            last = tick
    ctx.state["tick"] = last
    return out
