"""Bundle sizes and server start-up time: the PyInstaller bundle against the virtualenv.

    .venv/bin/python -m benchmarks.bundle_startup [--runs 5]

Needs a built bundle (python installers/build_bundle.py server); without one only the venv is measured.
"Start to ready" is the time from spawning `vms-server run` to the first 200 from /health/ready, on an
initialised SQLite data directory. The first run of each variant is reported apart: it is the coldest the
page cache allows without dropping caches for the whole machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks._common import free_port, print_table

REPO = Path(__file__).resolve().parents[1]
DIST = REPO / "build" / "installers" / "dist"
PASSWORD = "benchmark-Pa55word"


def folder_size(path: Path) -> tuple[float, int]:
    files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files) / 1e6, len(files)


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=120)
    return time.perf_counter() - started


def start_to_ready(cmd: list[str], env: dict[str, str]) -> float:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([*cmd, "run", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < 120:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("server not ready after 120 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def measure(name: str, cmd: list[str], runs: int) -> list[object]:
    with tempfile.TemporaryDirectory(prefix="vms-bench-") as tmp:
        env = {**os.environ, "VMS_DATA_DIR": tmp, "VMS_LOGGING__LEVEL": "WARNING", "VMS_ADMIN_PASSWORD": PASSWORD,
               "VMS_SERVER__TLS__MODE": "off"}  # the readiness probe below speaks plain HTTP on loopback
        subprocess.run([*cmd, "init"], env=env, check=True, capture_output=True, timeout=120)
        version = min(timed([*cmd, "--version"], env) for _ in range(max(1, runs)))
        times = [start_to_ready(cmd, env) for _ in range(runs + 1)]
    warm = times[1:] or times
    return [name, round(version, 2), round(times[0], 2), round(statistics.median(warm), 2), runs]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="warm starts per variant after the first")
    parser.add_argument("--bundle", type=Path, default=DIST / "vms-server", help="server bundle folder")
    parser.add_argument("--smoke", action="store_true", help="one run each (CI)")
    args = parser.parse_args()
    runs = 1 if args.smoke else args.runs

    sizes = []
    for bundle in sorted(DIST.glob("vms-*")) if DIST.is_dir() else []:
        mb, count = folder_size(bundle)
        sizes.append([bundle.name, "bundle", round(mb, 1), count])
    for deb in sorted((REPO / "build" / "installers" / "deb").glob("*.deb")):
        sizes.append([deb.name, "deb", round(deb.stat().st_size / 1e6, 1), 1])
    if sizes:
        print_table(["artifact", "kind", "MB", "files"], sizes)
        print()

    rows = [measure("venv (python -m vms_server)", [sys.executable, "-m", "vms_server"], runs)]
    if (args.bundle / "vms-server").is_file():
        rows.append(measure("bundle (vms-server)", [str(args.bundle / "vms-server")], runs))
    else:
        print(f"no bundle at {args.bundle}: python installers/build_bundle.py server", file=sys.stderr)
    print_table(["variant", "--version s", "first start to ready s", "median start to ready s", "runs"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
