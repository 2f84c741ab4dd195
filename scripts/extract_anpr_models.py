#!/usr/bin/env python3
"""Copy the PP-OCRv4 text detection and recognition ONNX models that ANPR ships out of the
`rapidocr-onnxruntime` wheel (Apache-2.0), and check them against the hashes in the notice.

No conversion: the wheel carries ONNX already. Run once, with the wheel fetched by pip:

    pip download --no-deps rapidocr-onnxruntime==1.4.4 -d /tmp/rapidocr
    python scripts/extract_anpr_models.py /tmp/rapidocr/rapidocr_onnxruntime-1.4.4-py3-none-any.whl

Nothing downloads models at run time: the files live in vms_server/analytics/plugins/weights/.
"""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

WEIGHTS = Path(__file__).resolve().parent.parent / "vms_server" / "analytics" / "plugins" / "weights"
WHEEL_SHA256 = "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf"
# member of the wheel -> (file shipped, its sha256)
FILES = {
    "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx":
        ("anpr_ppocrv4_det.onnx", "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"),
    "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx":
        ("anpr_ppocrv4_rec.onnx", "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"),
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: extract_anpr_models.py <rapidocr_onnxruntime-1.4.4 wheel>", file=sys.stderr)
        return 2
    wheel_path = Path(sys.argv[1])
    if sha256(wheel_path.read_bytes()) != WHEEL_SHA256:
        print(f"warning: {wheel_path.name} is not the wheel the notice names; checking the members anyway",
              file=sys.stderr)
    with zipfile.ZipFile(wheel_path) as wheel:
        metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        licence = [line for line in wheel.read(metadata).decode().splitlines() if line.startswith("License:")]
        if licence != ["License: Apache-2.0"]:
            print(f"refused: the wheel's licence is {licence}, not Apache-2.0", file=sys.stderr)
            return 1
        for member, (name, digest) in FILES.items():
            data = wheel.read(member)
            if sha256(data) != digest:
                print(f"refused: {member} has sha256 {sha256(data)}, expected {digest}", file=sys.stderr)
                return 1
            (WEIGHTS / name).write_bytes(data)
            print(f"wrote {WEIGHTS / name} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
