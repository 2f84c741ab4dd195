"""Fixtures of the WebRTC tests: a real coturn per test, and server settings that point at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.server.webrtc.coturn import Coturn, running_coturn
from vms_server.settings import Settings


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    with running_coturn(tmp_path / "coturn") as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, db_url: str, coturn: Coturn) -> Settings:
    return make_settings(tmp_path / "data", db_url, network={"ice": {
        "stun_urls": [coturn.stun_url], "turn_urls": [coturn.turn_url], "turn_secret": coturn.secret,
        "turn_ttl_s": 600}})
