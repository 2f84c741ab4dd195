#!/usr/bin/env python3
"""Build the PyInstaller one-folder bundles: `python installers/build_bundle.py server [desktop cloud]`.

Run it with the virtualenv's Python (`.venv/bin/python`, or `.venv\\Scripts\\python` on Windows) that has the
project and `pyinstaller` installed (`pip install -e '.[all,build]'`). Bundles land in build/installers/dist/<name>/.
`--if-changed` reuses a bundle built from the same sources (the test suite builds the server once per run).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "pyinstaller"))
from bundles import BUNDLES, REPO, Bundle, executables, version

DEFAULT_OUT = REPO / "build" / "installers"
INFO = "build-info.json"


def onnxruntime_flavour() -> str | None:
    """Which onnxruntime wheel the venv holds: the bundle ships exactly that one."""
    for dist, flavour in (("onnxruntime-gpu", "gpu"), ("onnxruntime", "cpu")):
        try:
            importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
        return flavour
    return None


def source_hash(bundle: Bundle) -> str:
    """A digest of everything that ends up in the bundle from this checkout, plus the interpreter's packages."""
    digest = hashlib.sha256()
    roots = [REPO / bundle.package, REPO / "vms_cloud_sync", REPO / "resources", REPO / "installers" / "pyinstaller"]
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(str(path.relative_to(REPO)).encode())
            digest.update(path.read_bytes())
    digest.update((REPO / "pyproject.toml").read_bytes())
    packages = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions())
    digest.update("\n".join(packages).encode())
    return digest.hexdigest()


def build_one(bundle: Bundle, out: Path, if_changed: bool) -> int:
    exes, skipped = executables(bundle)
    for note in skipped:
        print(f"{bundle.name}: skipping {note}")
    if not exes or exes[0].name != bundle.name:
        print(f"{bundle.name}: skipped, its main entry point does not exist yet")
        return 0
    target = out / "dist" / bundle.name
    digest = source_hash(bundle)
    info_path = target / INFO
    if if_changed and info_path.is_file() and json.loads(info_path.read_text()).get("source_hash") == digest:
        print(f"{bundle.name}: up to date in {target}")
        return 0
    spec = REPO / "installers" / "pyinstaller" / f"{bundle.name}.spec"
    started = time.monotonic()
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
           "--distpath", str(out / "dist"), "--workpath", str(out / "work" / bundle.name), str(spec)]
    print(f"{bundle.name}: building ({' '.join(e.name for e in exes)})", flush=True)
    if subprocess.run(cmd, cwd=REPO, check=False).returncode != 0:  # noqa: S603 (our own interpreter)
        print(f"error: PyInstaller failed for {bundle.name}", file=sys.stderr)
        shutil.rmtree(target, ignore_errors=True)
        return 1
    info = {"bundle": bundle.name, "version": version(), "executables": [e.name for e in exes],
            "onnxruntime": onnxruntime_flavour(), "platform": sys.platform, "source_hash": digest,
            "build_seconds": round(time.monotonic() - started, 1)}
    info_path.write_text(json.dumps(info, indent=2) + "\n")
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file() and not p.is_symlink())
    print(f"{bundle.name}: built in {info['build_seconds']} s, {size / 1e6:.0f} MB, {target}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundles", nargs="*", metavar="BUNDLE",
                        help=f"which bundles: {', '.join(BUNDLES)} (default: all)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("VMS_BUILD_DIR", DEFAULT_OUT)),
                        help="output folder (default build/installers)")
    parser.add_argument("--if-changed", action="store_true", help="keep a bundle built from the same sources")
    parser.add_argument("--gpu", action="store_true",
                        help="require the onnxruntime-gpu wheel (CUDA targets); default: whatever the venv holds")
    args = parser.parse_args(argv)
    unknown = [name for name in args.bundles if name not in BUNDLES]
    if unknown:
        parser.error(f"unknown bundle {', '.join(unknown)} (choose from {', '.join(BUNDLES)})")
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        print("error: PyInstaller is not installed in this Python; pip install -e '.[build]'", file=sys.stderr)
        return 2
    if args.gpu and onnxruntime_flavour() != "gpu":
        print("error: --gpu needs onnxruntime-gpu in this venv: pip install -e '.[server,gpu]' after "
              "uninstalling onnxruntime", file=sys.stderr)
        return 2
    status = 0
    for key in args.bundles or list(BUNDLES):
        status = max(status, build_one(BUNDLES[key], args.out.resolve(), args.if_changed))
    return status


if __name__ == "__main__":
    sys.exit(main())
