"""The capacity benchmark's smoke mode still runs and every stream gets its full frame rate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "camsim_capacity.py"


@pytest.mark.slow
def test_benchmark_smoke() -> None:
    result = subprocess.run([sys.executable, str(BENCHMARK), "--smoke"], capture_output=True, text=True,
                            timeout=60, check=True)
    row = result.stdout.strip().splitlines()[-1].split()
    n, cpu, _per_stream, fps_min = int(row[0]), float(row[1]), float(row[2]), float(row[3])
    assert n == 8
    assert fps_min >= 24.0, result.stdout
    assert cpu < 50.0, result.stdout  # generous: the CI machine is shared
