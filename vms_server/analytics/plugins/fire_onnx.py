"""A user-supplied YOLOv8-format ONNX fire/smoke detector (input [1, 3, H, W] RGB 0..1 letterboxed, output
[1, 4 + C, N]: centre x, centre y, width, height in input pixels, then one score per class). Class names are
configurable; a name containing "smoke" is smoke, one containing "fire" or "flame" is flame, the rest are
ignored. The session comes from the process-wide cache, so a worker pool shares it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vms_server.analytics.onnx_runtime import SESSIONS
from vms_server.analytics.plugins._frames import letterbox
from vms_server.analytics.plugins.fire_classic import FireFinding
from vms_server.analytics.types import Image


def kind_of(name: str) -> str | None:
    low = name.lower()
    if "smoke" in low:
        return "smoke"
    if "fire" in low or "flame" in low:
        return "flame"
    return None


class YoloFireDetector:
    kind = "yolov8-onnx"

    def __init__(self, path: Path, class_names: list[str]) -> None:
        """Blocking (opens the session). Raises onnxruntime errors for a file that is not a model."""
        loaded = SESSIONS.get(path)
        self.session = loaded.session
        self.providers = list(loaded.obtained)
        inp = self.session.get_inputs()[0]
        self.input = inp.name
        self.height = int(inp.shape[2]) if isinstance(inp.shape[2], int) else 640
        self.width = int(inp.shape[3]) if isinstance(inp.shape[3], int) else 640
        self.kinds = [kind_of(n) for n in class_names]

    def detect(self, image: Image, min_score: float) -> list[FireFinding]:
        """Flame and smoke boxes (normalised to `image`) after per-class non-maximum suppression.
        Raises ValueError when the model's output is not YOLOv8-shaped for the configured classes."""
        blob, box = letterbox(image, self.width, self.height)
        out = np.asarray(self.session.run(None, {self.input: blob})[0])
        if out.ndim != 3 or out.shape[1] != 4 + len(self.kinds):
            raise ValueError(f"not a YOLOv8 output for {len(self.kinds)} classes: shape {out.shape}")
        preds = out[0]
        found: list[FireFinding] = []
        for index, kind in enumerate(self.kinds):
            if kind is None:
                continue
            scores = preds[4 + index]
            idx = np.nonzero(scores >= min_score)[0]
            boxes, conf = [], []
            for i in idx:
                boxes.append(box.to_frame(*(float(v) for v in preds[:4, i])))
                conf.append(float(scores[i]))
            if not boxes:
                continue
            keep = np.array(cv2.dnn.NMSBoxes(boxes, conf, min_score, 0.45)).reshape(-1)
            found += [FireFinding(kind, boxes[int(k)], conf[int(k)], {"class": int(index)}) for k in keep]
        return found
