"""A tiny YOLOv8-format ONNX fire detector built with onnx.helper: flame-coloured pixels (bright red to
yellow) pooled over 8 x 8 cells, one candidate per local maximum, a fixed 64 x 64 box. Its classes are
("smoke", "fire") in that order (smoke never scores), so a test shows that class names decide the kinds. A
test instrument for the user-supplied-model path, not a product model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

from tests.server.analytics.tiny_yolo import peak_score_nodes, save_detector

CELL = 8


def build_tiny_fire_yolo(path: Path, width: int = 640, height: int = 480) -> Path:
    gw, gh = width // CELL, height // CELL
    n = gw * gh
    ys, xs = np.mgrid[0:gh, 0:gw]
    consts = {
        "starts_r": np.array([0], np.int64), "ends_r": np.array([1], np.int64),
        "starts_g": np.array([1], np.int64), "ends_g": np.array([2], np.int64),
        "starts_b": np.array([2], np.int64), "ends_b": np.array([3], np.int64),
        "axis": np.array([1], np.int64),
        "r_min": np.array(0.67, np.float32), "b_max": np.array(0.35, np.float32), "g_min": np.array(0.2, np.float32),
        "gain": np.array(3.0, np.float32), "zero": np.array(0.0, np.float32), "one": np.array(1.0, np.float32),
        "flat": np.array([1, 1, n], np.int64),
        "cx": ((xs + 0.5) * CELL).astype(np.float32).reshape(1, 1, n),
        "cy": ((ys + 0.5) * CELL).astype(np.float32).reshape(1, 1, n),
        "bw": np.full((1, 1, n), 64.0, np.float32), "bh": np.full((1, 1, n), 64.0, np.float32),
        "nothing": np.zeros((1, 1, n), np.float32),
    }
    nodes = [
        helper.make_node("Slice", ["images", "starts_r", "ends_r", "axis"], ["r"]),
        helper.make_node("Slice", ["images", "starts_g", "ends_g", "axis"], ["g"]),
        helper.make_node("Slice", ["images", "starts_b", "ends_b", "axis"], ["b"]),
        helper.make_node("Greater", ["r", "r_min"], ["r_hi"]),
        helper.make_node("Greater", ["g", "g_min"], ["g_hi"]),
        helper.make_node("Less", ["b", "b_max"], ["b_lo"]),
        helper.make_node("Greater", ["r", "g"], ["r_over_g"]),
        helper.make_node("And", ["r_hi", "g_hi"], ["c1"]),
        helper.make_node("And", ["c1", "b_lo"], ["c2"]),
        helper.make_node("And", ["c2", "r_over_g"], ["flame"]),
        helper.make_node("Cast", ["flame"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("AveragePool", ["mask"], ["pooled"], kernel_shape=[CELL, CELL], strides=[CELL, CELL]),
        *peak_score_nodes("pooled", "fire_score", 5),
        helper.make_node("Concat", ["cx", "cy", "bw", "bh", "nothing", "fire_score"], ["output0"], axis=1),
    ]
    return save_detector(nodes, consts, "tiny_fire", (width, height, 6, n), path)
