"""A tiny YOLOv8-format ONNX detector built with onnx.helper: it finds the simulator's people by the colour
of their heads. It exercises the user-supplied-detector path (input [1, 3, H, W], output [1, 4 + C, N],
decoding, NMS) end to end on scenes whose ground truth is exact; it is a test instrument, not a product
model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HEAD_RGB = (230, 190, 160)
CELL = 8


def build_tiny_yolo(path: Path, width: int = 640, height: int = 480) -> Path:
    gw, gh = width // CELL, height // CELL
    n = gw * gh
    ys, xs = np.mgrid[0:gh, 0:gw]
    cx = ((xs + 0.5) * CELL).astype(np.float32).reshape(1, 1, n)
    # Head centre -> body centre, and the body size, as the simulator draws people (0.04 x 0.15 of the frame).
    cy = ((ys + 0.5) * CELL + 0.055 * height).astype(np.float32).reshape(1, 1, n)
    consts = {
        "colour": np.array(HEAD_RGB, np.float32).reshape(1, 3, 1, 1) / 255.0,
        "limit": np.array(0.01, np.float32),
        "gain": np.array(2.0, np.float32),
        "zero": np.array(0.0, np.float32),
        "one": np.array(1.0, np.float32),
        "flat": np.array([1, 1, n], np.int64),
        "cx": cx, "cy": cy,
        "bw": np.full((1, 1, n), 0.04 * width, np.float32),
        "bh": np.full((1, 1, n), 0.15 * height, np.float32),
        "axes": np.array([1], np.int64),
    }
    nodes = [
        helper.make_node("Sub", ["images", "colour"], ["diff"]),
        helper.make_node("Mul", ["diff", "diff"], ["sq"]),
        helper.make_node("ReduceSum", ["sq", "axes"], ["dist"], keepdims=1),
        helper.make_node("Less", ["dist", "limit"], ["near"]),
        helper.make_node("Cast", ["near"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("AveragePool", ["mask"], ["pooled"], kernel_shape=[CELL, CELL], strides=[CELL, CELL]),
        # Keep only local maxima of the smoothed head score: one candidate per head.
        helper.make_node("AveragePool", ["pooled"], ["smooth"], kernel_shape=[3, 3], strides=[1, 1],
                         pads=[1, 1, 1, 1]),
        *peak_score_nodes("smooth", "score", 3),
        helper.make_node("Concat", ["cx", "cy", "bw", "bh", "score"], ["output0"], axis=1),
    ]
    return save_detector(nodes, consts, "tiny_yolo_people", (width, height, 5, n), path)


def peak_score_nodes(source: str, output: str, kernel: int) -> list[onnx.NodeProto]:
    """Scores of the local maxima of `source` (one candidate per blob, as NMS would leave), times the constant
    `gain`, clipped to 0..1 and flattened to [1, 1, N] as `output`. Needs the consts gain, zero, one, flat."""
    pad = kernel // 2
    return [
        helper.make_node("MaxPool", [source], ["peak"], kernel_shape=[kernel, kernel], strides=[1, 1],
                         pads=[pad] * 4),
        helper.make_node("Equal", [source, "peak"], ["is_peak"]),
        helper.make_node("Cast", ["is_peak"], ["peak_mask"], to=TensorProto.FLOAT),
        helper.make_node("Mul", [source, "peak_mask"], ["peaks"]),
        helper.make_node("Mul", ["peaks", "gain"], ["scaled"]),
        helper.make_node("Clip", ["scaled", "zero", "one"], ["clipped"]),
        helper.make_node("Reshape", ["clipped", "flat"], [output]),
    ]


def save_detector(nodes: list[onnx.NodeProto], consts: dict[str, np.ndarray], name: str,
                  shape: tuple[int, int, int, int], path: Path) -> Path:
    """The graph as a checked YOLOv8-shaped model file: input `images` [1, 3, H, W], output `output0`
    [1, rows, N] for shape (W, H, rows, N)."""
    width, height, rows, n = shape
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, height, width])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, rows, n])],
        [numpy_helper.from_array(v, k) for k, v in consts.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
