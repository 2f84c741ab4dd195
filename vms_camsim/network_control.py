"""Cutting cameras of a simulator running in another process off the network (``--network-control FILE``).

The file lists the names of the cameras whose network is down, one per line; a missing or empty file means every
camera is reachable. The simulator reads it twice a second and applies it with ``SimulatorHandle.set_network``,
so a test or an operator can drop a camera (it keeps recording to its card) with nothing but a file write:
``echo cam1 > down.txt``, and bring it back with ``rm down.txt``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vms_camsim.handle import SimulatorHandle

log = logging.getLogger(__name__)

POLL_S = 0.5


def read_down(path: Path) -> set[str]:
    """Names listed in the control file (none when it is missing or unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()
    return {line.strip() for line in text.splitlines() if line.strip()}


def write_down(path: Path, names: set[str]) -> None:
    """Replace the control file's list atomically (a reader never sees half of it)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{name}\n" for name in sorted(names)), encoding="utf-8")
    tmp.replace(path)


async def follow(sim: SimulatorHandle, path: Path) -> None:
    """Apply the control file to the fleet until cancelled; unknown names are logged once and ignored."""
    warned: set[str] = set()
    while True:
        down = read_down(path)
        for name in down - set(sim.cameras) - warned:
            log.warning("network control: no camera named %r", name)
            warned.add(name)
        for name, camera in sim.cameras.items():
            if camera.network_down != (name in down):
                sim.set_network(name, up=name not in down)
        await asyncio.sleep(POLL_S)
