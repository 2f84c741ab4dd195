"""Small image helpers shared by the OpenCV models."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from vms_server.analytics.base import CameraContext, Zone
from vms_server.analytics.types import Frame, Image


@dataclass(frozen=True)
class Letterbox:
    """Where a frame sits inside a YOLO input: kept so that boxes in input pixels can be mapped back to the
    frame's normalised coordinates (the grey bars must not shift or stretch the boxes)."""

    scale: float
    x_off: int
    y_off: int
    width: int
    height: int

    def to_frame(self, cx: float, cy: float, bw: float, bh: float) -> tuple[float, float, float, float]:
        """A centre/size box in input pixels as (x, y, w, h) normalised to the frame, clipped at the top left."""
        x0 = (cx - bw / 2 - self.x_off) / self.scale / self.width
        y0 = (cy - bh / 2 - self.y_off) / self.scale / self.height
        return max(0.0, x0), max(0.0, y0), bw / self.scale / self.width, bh / self.scale / self.height


def letterbox(image: Image, width: int, height: int) -> tuple[np.ndarray, Letterbox]:
    """The [1, 3, height, width] float RGB 0..1 blob YOLOv8 exports take: the frame scaled to fit without
    distortion and centred on grey (114, Ultralytics' pad value, so the network sees what it was trained on)."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = round(w * scale), round(h * scale)
    canvas = np.full((height, width, 3), 114, np.uint8)
    x_off, y_off = (width - nw) // 2, (height - nh) // 2
    canvas[y_off:y_off + nh, x_off:x_off + nw] = cv2.resize(image, (nw, nh))
    blob = canvas.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    return blob, Letterbox(scale, x_off, y_off, w, h)


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
