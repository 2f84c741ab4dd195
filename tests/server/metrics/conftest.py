"""A server with a scrape token configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_settings
from vms_server.settings import Settings

SCRAPE_TOKEN = "prometheus-scrape-token-0123456789"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path / "data", db_url, metrics={"token": SCRAPE_TOKEN},
                         watchdog={"enabled": False},
                         recording={"open_timeout_s": 5, "read_timeout_s": 3, "backoff_initial_s": 0.5})
