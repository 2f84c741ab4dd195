"""A tiny YOLOv8-format ONNX person detector built with onnx.helper that gives the simulator's posed people
(vms_camsim.scenes_fall) boxes of the right shape: standing, crouched or lying. Each candidate box (three
anchor shapes at every position of a quarter-resolution grid) scores its overlap (IoU) with the people's
pixels (skin-coloured head, blue body) around it, so the anchor that fits the figure wins. A test
instrument for the fallen-person model's whole path, not a product model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vms_camsim.scenes_fall import BODY_RGB, HEAD_RGB

# (height, width) in quarter-resolution cells, odd so that a window is centred on its cell.
ANCHORS = ((27, 9), (17, 9), (9, 27))
BIG = 31


def build_posture_yolo(path: Path, width: int = 640, height: int = 480) -> Path:
    gw, gh = width // 4, height // 4
    n = gw * gh
    ys, xs = np.mgrid[0:gh, 0:gw]
    consts: dict[str, np.ndarray] = {
        "head": np.array(HEAD_RGB, np.float32).reshape(1, 3, 1, 1) / 255.0,
        "body": np.array(BODY_RGB, np.float32).reshape(1, 3, 1, 1) / 255.0,
        "limit": np.array(0.015, np.float32),
        "axes": np.array([1], np.int64),
        "flat": np.array([1, 1, n], np.int64),
        "cx": ((xs + 0.5) * 4).astype(np.float32).reshape(1, 1, n),
        "cy": ((ys + 0.5) * 4).astype(np.float32).reshape(1, 1, n),
        "big_area": np.array(float(BIG * BIG), np.float32),
    }
    nodes = []
    for name in ("head", "body"):
        nodes += [helper.make_node("Sub", ["images", name], [f"{name}_d"]),
                  helper.make_node("Mul", [f"{name}_d", f"{name}_d"], [f"{name}_sq"]),
                  helper.make_node("ReduceSum", [f"{name}_sq", "axes"], [f"{name}_dist"], keepdims=1),
                  helper.make_node("Less", [f"{name}_dist", "limit"], [f"{name}_near"])]
    nodes += [
        helper.make_node("Or", ["head_near", "body_near"], ["near"]),
        helper.make_node("Cast", ["near"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("AveragePool", ["mask"], ["quarter"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("AveragePool", ["quarter"], ["big_mean"], kernel_shape=[BIG, BIG], auto_pad="SAME_UPPER",
                         count_include_pad=1),
        helper.make_node("Mul", ["big_mean", "big_area"], ["blob"]),
    ]
    outputs = []
    for i, (kh, kw) in enumerate(ANCHORS):
        consts[f"area{i}"] = np.array(float(kh * kw), np.float32)
        consts[f"bw{i}"] = np.full((1, 1, n), kw * 4.0, np.float32)
        consts[f"bh{i}"] = np.full((1, 1, n), kh * 4.0, np.float32)
        nodes += [
            helper.make_node("AveragePool", ["quarter"], [f"mean{i}"], kernel_shape=[kh, kw], auto_pad="SAME_UPPER",
                             count_include_pad=1),
            helper.make_node("Mul", [f"mean{i}", f"area{i}"], [f"inter{i}"]),
            helper.make_node("Add", ["blob", f"area{i}"], [f"sum{i}"]),
            helper.make_node("Sub", [f"sum{i}", f"inter{i}"], [f"union{i}"]),
            helper.make_node("Div", [f"inter{i}", f"union{i}"], [f"iou{i}"]),
            helper.make_node("MaxPool", [f"iou{i}"], [f"peak{i}"], kernel_shape=[3, 3], strides=[1, 1],
                             pads=[1, 1, 1, 1]),
            helper.make_node("Equal", [f"iou{i}", f"peak{i}"], [f"is_peak{i}"]),
            helper.make_node("Cast", [f"is_peak{i}"], [f"peak_mask{i}"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"iou{i}", f"peak_mask{i}"], [f"peaks{i}"]),
            helper.make_node("Reshape", [f"peaks{i}", "flat"], [f"score{i}"]),
            helper.make_node("Concat", ["cx", "cy", f"bw{i}", f"bh{i}", f"score{i}"], [f"out{i}"], axis=1),
        ]
        outputs.append(f"out{i}")
    nodes.append(helper.make_node("Concat", outputs, ["output0"], axis=2))
    graph = helper.make_graph(
        nodes, "tiny_posture_people",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, height, width])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 5, n * len(ANCHORS)])],
        [numpy_helper.from_array(v, k) for k, v in consts.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
