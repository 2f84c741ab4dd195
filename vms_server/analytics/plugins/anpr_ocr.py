"""PP-OCRv4 behind two calls: `find_text` (DB text detection: where the plate's characters are inside a
vehicle region) and `read` (CTC text recognition of one straightened plate crop).

Both networks are the ONNX files the `rapidocr-onnxruntime` wheel (Apache-2.0) carries, shipped as package
data (see weights/NOTICE-anpr-ppocr.txt and scripts/extract_anpr_models.py); sessions come from the
process-wide cache. The recogniser's alphabet is Chinese and Latin (6,623 symbols); plates use 0-9 and A-Z,
so decoding only considers those (and the CTC blank): a smudged "8" cannot come out as a Chinese character.
"""

from __future__ import annotations

import importlib.resources
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from vms_server.analytics.onnx_runtime import SESSIONS
from vms_server.analytics.plugins import weights
from vms_server.analytics.types import Image

DET_NAME = "anpr_ppocrv4_det.onnx"
REC_NAME = "anpr_ppocrv4_rec.onnx"
PLATE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
REC_HEIGHT = 48
MAX_REC_WIDTH = 480
DET_MAX_SIDE = 640  # a vehicle region is small; more pixels only cost time


@dataclass(frozen=True, slots=True)
class TextBox:
    """A text line found by the detector: a rotated rectangle in the region's pixels."""

    corners: tuple[tuple[float, float], ...]  # top-left, top-right, bottom-right, bottom-left
    score: float

    @property
    def size(self) -> tuple[float, float]:
        """Width along the text and height across it, in pixels."""
        (x0, y0), (x1, y1), _, (x3, y3) = self.corners
        return float(np.hypot(x1 - x0, y1 - y0)), float(np.hypot(x3 - x0, y3 - y0))

    @property
    def aspect(self) -> float:
        w, h = self.size
        return w / max(h, 1e-6)

    @property
    def centre(self) -> tuple[float, float]:
        return (sum(c[0] for c in self.corners) / 4, sum(c[1] for c in self.corners) / 4)


@dataclass(frozen=True, slots=True)
class TextRead:
    """What the recogniser read: characters with their probability."""

    text: str
    char_probs: tuple[float, ...]

    @property
    def confidence(self) -> float:
        return float(np.mean(self.char_probs)) if self.char_probs else 0.0


def model_path(name: str) -> Path | None:
    """A shipped model file (package data), None when it is missing from this installation."""
    resource = importlib.resources.files(weights) / name
    return Path(str(resource)) if resource.is_file() else None


def _blob(image_bgr: Image) -> npt.NDArray[np.float32]:
    x = image_bgr.astype(np.float32) / 127.5 - 1.0  # PP-OCR's mean 0.5, std 0.5
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


class PlateOcr:
    """The two PP-OCR sessions. Thread-safe as onnxruntime sessions are; holds no per-camera state."""

    kind = "ppocrv4-onnx"

    def __init__(self, det_path: Path, rec_path: Path) -> None:
        det = SESSIONS.get(det_path)
        rec = SESSIONS.get(rec_path)
        self.det: Any = det.session
        self.rec: Any = rec.session
        self.providers = list(det.obtained)
        symbols = self.rec.get_modelmeta().custom_metadata_map["character"].splitlines()
        index = {s: i + 1 for i, s in enumerate(symbols)}  # 0 is the CTC blank
        self.allowed = np.array([0] + [index[c] for c in PLATE_ALPHABET], np.int64)
        self.inferences = 0

    # --- detection --------------------------------------------------------------------------------
    def find_text(self, region: Image, *, threshold: float = 0.3, min_score: float = 0.5,
                  unclip: float = 1.6) -> list[TextBox]:
        """Text lines in an RGB region (a vehicle). Blocking."""
        h, w = region.shape[:2]
        scale = min(1.0, DET_MAX_SIDE / max(h, w))
        nh, nw = max(32, round(h * scale / 32) * 32), max(32, round(w * scale / 32) * 32)
        resized: Image = np.asarray(cv2.resize(cv2.cvtColor(region, cv2.COLOR_RGB2BGR), (nw, nh)), np.uint8)
        prob = np.asarray(self.det.run(None, {self.det.get_inputs()[0].name: _blob(resized)})[0])[0, 0]
        self.inferences += 1
        mask = (prob > threshold).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        sx, sy = w / nw, h / nh
        found = []
        for contour in contours:
            if cv2.contourArea(contour) < 16:
                continue
            one = np.zeros_like(mask)
            cv2.drawContours(one, [contour], -1, 1, -1)
            score = float(prob[one > 0].mean())
            if score < min_score:
                continue
            (cx, cy), (rw, rh), angle = cv2.minAreaRect(contour)
            grow = rw * rh * unclip / (2 * (rw + rh))  # DB's unclip distance for a rectangle
            rect = ((cx * sx, cy * sy), ((rw + 2 * grow) * sx, (rh + 2 * grow) * sy), angle)
            found.append(TextBox(corners_of(rect), score))
        return found

    # --- recognition ------------------------------------------------------------------------------
    def crop(self, region: Image, box: TextBox) -> Image:
        """The text line warped to an upright rectangle (rotation and shear undone)."""
        w, h = (max(4, round(v)) for v in box.size)
        src = np.array(box.corners, np.float32)
        dst = np.array([(0, 0), (w, 0), (w, h), (0, h)], np.float32)
        matrix = cv2.getPerspectiveTransform(src, dst)
        return np.ascontiguousarray(cv2.warpPerspective(region, matrix, (w, h), flags=cv2.INTER_CUBIC,
                                                        borderMode=cv2.BORDER_REPLICATE))

    def read(self, line: Image) -> TextRead:
        """Recognise one straightened RGB text line. Blocking."""
        h, w = line.shape[:2]
        if h < 4 or w < 4:
            return TextRead("", ())
        width = min(MAX_REC_WIDTH, max(16, math.ceil(REC_HEIGHT * w / h)))
        canvas = np.zeros((REC_HEIGHT, max(width, 64), 3), np.uint8)
        canvas[:, :width] = cv2.resize(cv2.cvtColor(line, cv2.COLOR_RGB2BGR), (width, REC_HEIGHT))
        blob = _blob(canvas)
        blob[..., width:] = 0.0  # PP-OCR pads with zeros after normalising
        probs = np.asarray(self.rec.run(None, {self.rec.get_inputs()[0].name: blob})[0])[0]
        self.inferences += 1
        return self._decode(probs[:, self.allowed])

    @staticmethod
    def _decode(probs: npt.NDArray[np.float32]) -> TextRead:
        """Greedy CTC over the plate alphabet (column 0 is the blank), renormalised per time step."""
        probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-9)
        best = probs.argmax(axis=1)
        chars: list[str] = []
        conf: list[float] = []
        previous = 0
        for t, k in enumerate(best):
            if k not in (0, previous):
                chars.append(PLATE_ALPHABET[k - 1])
                conf.append(float(probs[t, k]))
            elif k != 0 and conf:
                conf[-1] = max(conf[-1], float(probs[t, k]))
            previous = int(k)
        return TextRead("".join(chars), tuple(conf))


RotatedRect = tuple[tuple[float, float], tuple[float, float], float]


def corners_of(rect: RotatedRect) -> tuple[tuple[float, float], ...]:
    """A rotated rectangle's corners as top-left, top-right, bottom-right, bottom-left, long side on top."""
    pts = sorted(((float(x), float(y)) for x, y in cv2.boxPoints(rect)), key=lambda p: p[0])
    left = sorted(pts[:2], key=lambda p: p[1])
    right = sorted(pts[2:], key=lambda p: p[1])
    corners = (left[0], right[0], right[1], left[1])
    (x0, y0), (x1, y1), _, (x3, y3) = corners
    if np.hypot(x3 - x0, y3 - y0) > 1.5 * np.hypot(x1 - x0, y1 - y0):  # standing text: turn it
        corners = (corners[3], corners[0], corners[1], corners[2])
    return corners


def load_plate_ocr() -> PlateOcr | None:
    """The shipped OCR, None when the model files are missing from this installation. Blocking."""
    det, rec = model_path(DET_NAME), model_path(REC_NAME)
    if det is None or rec is None:
        return None
    return PlateOcr(det, rec)
