"""A wide panorama for PTZ auto-tracking: one person walks across the whole world and back.

A PTZ camera sees only a window of the world (vms_camsim.ptz: half its width at zoom 0, less when zoomed), so a
camera left alone loses the walker; one that follows keeps them in the picture. The walk goes there and back in
one loop, so the wall-clock-aligned loop never makes the person jump, whatever the phase a test starts at.
"""

from __future__ import annotations

from vms_camsim.config import SceneKind
from vms_camsim.scenes import Mover, Scene

WALKER_ID = "walker"
_LEFT, _RIGHT, _Y = (0.2, 0.70), (0.8, 0.70), 0.70
_SIZE = (0.035, 0.12)
WALKER_COLOUR = (220, 40, 200)  # magenta: nothing else in the world has it, so a test can find the walker's pixels

WALK = (
    Mover(WALKER_ID, "person", 0.0, 0.5, _LEFT, _RIGHT, _SIZE, WALKER_COLOUR),
    Mover(WALKER_ID, "person", 0.5, 1.0, _RIGHT, _LEFT, _SIZE, WALKER_COLOUR),
)


def make_panorama_scene() -> Scene:
    """The panorama scene (the person only; the street background is the common one)."""
    return Scene(SceneKind.PANORAMA, movers=WALK)
