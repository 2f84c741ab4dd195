"""Give the bundled SSDLite person detector a dynamic batch axis (run once after scripts/convert_person_detector.py).

tf2onnx converted the TensorFlow graph with a fixed input of 1 x 300 x 300 x 3, and constant folding baked that
batch of 1 into the preprocessor's `map` loop (its trip condition compares the index with a folded 1.0), so a
batch of 8 images came out as the detections of the first image only. That loop does nothing for our input:
it resizes each image to 300 x 300 with scales of 1 (an identity) and stacks each image's true shape
(300, 300, 3). This script replaces the loop with what it computes, for any batch:

- the images: Transpose(NHWC -> NCHW) of the float input, exactly what the loop stacked;
- the true shapes: the constant (300, 300, 3) tiled to the batch size taken from the input's shape;

then drops the nodes left without consumers and declares the input's first axis as `batch`. The
postprocessor's loop already takes its trip count from the batch dimension. Each image of a batch gives the
same detections as the original model on that image alone (checked here before writing, and by
tests/server/analytics/test_inference_batching.py).

    .venv/bin/python scripts/person_detector_batch_axis.py [model.onnx]

It lives here, not beside the weights, so that the bundles (which collect every module of vms_server) do not
pull in the onnx package it needs.

The file is rewritten in place; update the sha256 in weights/NOTICE-person-detector.txt with the one printed.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

MODEL = (Path(__file__).resolve().parent.parent / "vms_server" / "analytics" / "plugins" / "weights"
         / "person_ssdlite_mobilenet_v2.onnx")
PREPROCESS_LOOP = "generic_loop_Loop__85"
IMAGES = "Preprocessor/map/TensorArrayStack/TensorArrayGatherV3:0"
TRUE_SHAPES = "Preprocessor/map/TensorArrayStack_1/TensorArrayGatherV3:0"
FLOAT_INPUT = "ToFloat:0"


def _check_loop(loop: onnx.NodeProto) -> None:
    """Refuse to rewrite a graph whose preprocessor is not the identity resize this script assumes."""
    body = loop.attribute[0].g
    consts = {i.name: numpy_helper.to_array(i) for i in body.initializer}
    resize = [n for n in body.node if n.op_type == "Resize"]
    scales = consts.get(resize[0].input[2]) if len(resize) == 1 else None
    if scales is None or not np.array_equal(scales, np.ones(4, np.float32)):
        raise SystemExit("unexpected preprocessor: not an identity resize; nothing written")


def _prune(graph: onnx.GraphProto) -> int:
    """Remove nodes none of whose outputs is used (by a node, a subgraph or a graph output)."""
    removed = 0
    while True:
        used = {o.name for o in graph.output}
        for node in graph.node:
            used.update(node.input)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    used.update(i for n in attr.g.node for i in n.input)
        dead = [n for n in graph.node if not any(o in used for o in n.output if o)]
        if not dead:
            unused = [i for i in graph.initializer if i.name not in used]
            for init in unused:
                graph.initializer.remove(init)
            return removed
        for node in dead:
            graph.node.remove(node)
        removed += len(dead)


def make_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    graph = model.graph
    [loop] = [n for n in graph.node if n.name == PREPROCESS_LOOP]
    _check_loop(loop)
    index = list(graph.node).index(loop)
    graph.node.remove(loop)
    shape_const = numpy_helper.from_array(np.array([[300, 300, 3]], np.int32), "batch_fix/true_shape")
    graph.initializer.extend([shape_const, numpy_helper.from_array(np.array([0], np.int64), "batch_fix/zero"),
                              numpy_helper.from_array(np.array([1], np.int64), "batch_fix/one")])
    new = [
        helper.make_node("Transpose", [FLOAT_INPUT], [IMAGES], "batch_fix/images", perm=[0, 3, 1, 2]),
        helper.make_node("Shape", [FLOAT_INPUT], ["batch_fix/shape"], "batch_fix/shape_of_input"),
        helper.make_node("Slice", ["batch_fix/shape", "batch_fix/zero", "batch_fix/one"], ["batch_fix/batch"],
                         "batch_fix/batch_size"),
        helper.make_node("Concat", ["batch_fix/batch", "batch_fix/one"], ["batch_fix/repeats"],
                         "batch_fix/repeats", axis=0),
        helper.make_node("Tile", ["batch_fix/true_shape", "batch_fix/repeats"], [TRUE_SHAPES],
                         "batch_fix/true_shapes"),
    ]
    for offset, node in enumerate(new):
        graph.node.insert(index + offset, node)
    _prune(graph)
    dim = graph.input[0].type.tensor_type.shape.dim[0]
    dim.ClearField("dim_value")
    dim.dim_param = "batch"
    del graph.value_info[:]
    onnx.checker.check_model(model)
    return model


def _verify(original: Path, dynamic: bytes) -> None:
    """Each image of a batch of 4 detects exactly what the original model detects on it alone."""
    import onnxruntime as ort

    one = ort.InferenceSession(str(original), providers=["CPUExecutionProvider"])
    many = ort.InferenceSession(dynamic, providers=["CPUExecutionProvider"])
    images = np.random.default_rng(15).integers(0, 256, (4, 300, 300, 3), dtype=np.uint8)
    batched = many.run(None, {"image_tensor:0": images})
    for i in range(len(images)):
        alone = one.run(None, {"image_tensor:0": images[i:i + 1]})
        for b, a in zip(batched, alone, strict=True):
            if b.shape[0] != len(images) or not np.allclose(b[i:i + 1], a, atol=1e-5):
                raise SystemExit(f"image {i} differs from the original model; nothing written")


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else MODEL
    model = onnx.load(str(path))
    if model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch":
        print(f"{path.name} already has a dynamic batch axis")
        return 0
    data = make_dynamic(model).SerializeToString()
    _verify(path, data)
    path.write_bytes(data)
    print(f"wrote {path} ({len(data)} bytes) sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
