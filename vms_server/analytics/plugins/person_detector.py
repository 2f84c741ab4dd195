"""Person detectors behind one call: the bundled SSDLite-MobileNetV2 (ONNX), any YOLOv8-format ONNX
detector a user supplies (output [1, 4+C, N]), and OpenCV's HOG people detector when no model file exists.

Every detector returns boxes normalised to the frame (x, y, w, h) with a score, after non-maximum
suppression. Sessions come from the process-wide cache, so a model's worker pool shares one.
"""

from __future__ import annotations

import importlib.resources
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from vms_server.analytics.onnx_runtime import SESSIONS
from vms_server.analytics.plugins import weights
from vms_server.analytics.plugins._frames import letterbox
from vms_server.analytics.types import Box, Image

logger = logging.getLogger(__name__)

BUNDLED_NAME = "person_ssdlite_mobilenet_v2.onnx"


@dataclass(frozen=True, slots=True)
class PersonBox:
    box: Box
    score: float


class PersonDetector(Protocol):
    kind: str

    @property
    def providers(self) -> list[str]: ...

    def detect(self, image: Image, min_score: float) -> list[PersonBox]: ...

    def detect_batch(self, images: list[Image], min_score: float) -> list[list[PersonBox]]: ...


def bundled_model() -> Path | None:
    """The shipped SSDLite model, package data beside this module: found the same way in a checkout, a wheel
    (`pip install --user` or system Python included) and a PyInstaller bundle, where a lookup under
    `sys.prefix` missed and the server silently fell back to HOG."""
    resource = importlib.resources.files(weights) / BUNDLED_NAME
    return Path(str(resource)) if resource.is_file() else None


def _nms(boxes: list[tuple[float, float, float, float]], scores: list[float], min_score: float,
         iou: float = 0.45) -> list[PersonBox]:
    if not boxes:
        return []
    keep = cv2.dnn.NMSBoxes(boxes, scores, min_score, iou)
    return [PersonBox(boxes[int(i)], float(scores[int(i)])) for i in np.array(keep).reshape(-1)]


class SsdDetector:
    """TensorFlow Object Detection API outputs (boxes as ymin, xmin, ymax, xmax; class 1 = person). The bundled
    graph takes a batch (scripts/person_detector_batch_axis.py), so several frames can go through one run."""

    kind = "ssdlite-onnx"

    def __init__(self, path: Path) -> None:
        self.session = SESSIONS.get(path).session
        shape = self.session.get_inputs()[0].shape
        width = int(shape[2]) if isinstance(shape[2], int) else 300
        self.size = (width, int(shape[1]) if isinstance(shape[1], int) else 300)
        self.input = self.session.get_inputs()[0].name
        self.batchable = not isinstance(shape[0], int)

    @property
    def providers(self) -> list[str]:
        """The providers the session runs on now (after a runtime fallback, the CPU)."""
        return list(self.session.get_providers())

    def detect(self, image: Image, min_score: float) -> list[PersonBox]:
        return self.detect_batch([image], min_score)[0]

    def detect_batch(self, images: list[Image], min_score: float) -> list[list[PersonBox]]:
        """People on each image, from one run of the network when the graph takes a batch."""
        if not images:
            return []
        x = np.stack([cv2.resize(image, self.size, interpolation=cv2.INTER_AREA) for image in images])
        if not self.batchable and len(images) > 1:
            return [self.detect(image, min_score) for image in images]
        boxes, scores, classes, count = self.session.run(None, {self.input: x})
        out = []
        for b in range(len(images)):
            found, conf = [], []
            for i in range(int(count[b])):
                if int(classes[b, i]) != 1 or float(scores[b, i]) < min_score:
                    continue
                y0, x0, y1, x1 = (float(v) for v in boxes[b, i])
                found.append((x0, y0, x1 - x0, y1 - y0))
                conf.append(float(scores[b, i]))
            out.append(_nms(found, conf, min_score))
        return out


class YoloV8Detector:
    """Ultralytics YOLOv8 export: input [1, 3, H, W] float RGB 0..1 (letterboxed), output [1, 4 + C, N] with
    centre x, centre y, width, height in input pixels followed by one score per class."""

    kind = "yolov8-onnx"

    def __init__(self, path: Path, person_class: int = 0) -> None:
        self.session = SESSIONS.get(path).session
        inp = self.session.get_inputs()[0]
        self.input = inp.name
        self.height = int(inp.shape[2]) if isinstance(inp.shape[2], int) else 640
        self.width = int(inp.shape[3]) if isinstance(inp.shape[3], int) else 640
        self.person_class = person_class

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def detect_batch(self, images: list[Image], min_score: float) -> list[list[PersonBox]]:
        return [self.detect(image, min_score) for image in images]

    def detect(self, image: Image, min_score: float) -> list[PersonBox]:
        blob, box = letterbox(image, self.width, self.height)
        out = np.asarray(self.session.run(None, {self.input: blob})[0])
        if out.ndim != 3 or out.shape[1] < 5:
            raise ValueError(f"not a YOLOv8 detector output: shape {out.shape}")
        preds = out[0]
        scores = preds[4 + self.person_class]
        idx = np.nonzero(scores >= min_score)[0]
        found, conf = [], []
        for i in idx:
            found.append(box.to_frame(*(float(v) for v in preds[:4, i])))
            conf.append(float(scores[i]))
        return _nms(found, conf, min_score)


class HogDetector:
    """OpenCV's HOG + linear SVM people detector: no model file needed, slower and less accurate."""

    kind = "opencv-hog"

    def __init__(self) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32))
        self.providers = ["opencv-cpu"]

    def detect_batch(self, images: list[Image], min_score: float) -> list[list[PersonBox]]:
        return [self.detect(image, min_score) for image in images]

    def detect(self, image: Image, min_score: float) -> list[PersonBox]:
        h, w = image.shape[:2]
        rects, weights = self.hog.detectMultiScale(image, winStride=(8, 8), padding=(8, 8), scale=1.05)
        found, conf = [], []
        for (x, y, bw, bh), weight in zip(rects, np.asarray(weights).reshape(-1), strict=False):
            score = float(1 / (1 + np.exp(-float(weight))))  # SVM margin -> 0..1
            found.append((x / w, y / h, bw / w, bh / h))
            conf.append(score)
        return _nms(found, conf, min_score)


def _output_rank(path: Path) -> int:
    session: Any = SESSIONS.get(path).session
    outputs = session.get_outputs()
    return len(outputs[0].shape) if len(outputs) == 1 else 0


def load_person_detector(path: Path | None = None, person_class: int = 0) -> PersonDetector:
    """The detector for `path` (YOLOv8 when the model has a single rank-3 output, else SSD), the bundled
    model when `path` is None, and HOG when there is no model file. Blocking."""
    if path is None:
        path = bundled_model()
        if path is None:
            logger.warning("no person detector model file found: using OpenCV HOG")
            return HogDetector()
    if _output_rank(path) == 3:
        return YoloV8Detector(path, person_class)
    return SsdDetector(path)
