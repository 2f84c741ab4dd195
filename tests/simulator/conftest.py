"""Fixtures: real simulators on free loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from vms_camsim import AuthMode, SimulatorConfig, SimulatorHandle

from .helpers import small_camera


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    """Three small H.264 cameras: cam1 (Basic or Digest), open (no auth), basic (Basic only)."""
    config = SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[
        small_camera("cam1"), small_camera("open", auth=AuthMode.NONE), small_camera("basic", auth=AuthMode.BASIC),
    ])
    async with SimulatorHandle.start(config) as handle:
        yield handle
