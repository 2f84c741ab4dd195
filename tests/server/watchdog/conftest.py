"""Watchdog tests drive the rounds themselves (loop off) with short windows and tight SLAs, so that induced
faults show within a second instead of minutes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_settings
from vms_server.settings import Settings

FAST_SLA = {"CRITICAL": {"response_ms": 50, "availability": 0.9},
            "HIGH": {"response_ms": 50, "availability": 0.9},
            "MEDIUM": {"response_ms": 200, "availability": 0.9},
            "STANDARD": {"response_ms": 200, "availability": 0.9}}


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path / "data", db_url, watchdog={
        "enabled": False, "window_s": 0.6, "min_samples": 3, "baseline_windows": 5, "sla": FAST_SLA,
        "throughput_drop": 0.5, "anomaly_floor_ms": 10, "shed_at": 0.8, "unshed_at": 0.5})
