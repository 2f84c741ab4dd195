"""A short run of every benchmark, so a benchmark that rots fails CI (full runs are by hand)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted(p.stem for p in (Path(__file__).parents[1] / "benchmarks").glob("[!_]*.py"))


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_smoke(name: str) -> None:
    result = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", "--smoke"], capture_output=True, text=True,
                            timeout=540, check=False, cwd=Path(__file__).parents[1])
    assert result.returncode == 0, f"{name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    # A table: a header and at least one row of three or more columns, one of them a number.
    rows = [line.replace("|", " ").split() for line in result.stdout.splitlines()]
    rows = [r for r in rows if len(r) >= 3]
    numeric = [r for r in rows if any(c.replace(".", "", 1).replace("-", "", 1).isdigit() for c in r)]
    assert len(rows) >= 2 and numeric, f"{name} printed no table:\n{result.stdout[-2000:]}"
