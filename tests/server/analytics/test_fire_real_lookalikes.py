"""The classical fire detector against what fooled it on real footage (#13): vtest.avi's walkers and traffic
cones. Each look-alike is drawn on a 160 x 120 thumbnail (what the detector sees) so the rule that rejects it is
tested on its own; the real clip itself, decoded, must raise nothing (skipped where opencv-doc is absent). The
simulator's flames and smoke are still found (test_fire_fallen.py, and through RTSP test_fire_fallen_e2e.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.server.analytics.real_footage import VTEST
from vms_server.analytics.plugins import fire_classic
from vms_server.analytics.plugins.fire_classic import HEIGHT, WIDTH, FireFinding

FPS = 10.0  # vtest.avi's own rate


def _run(frames: list[np.ndarray], loops: int = 1) -> list[tuple[int, FireFinding]]:
    params = fire_classic.ClassicParams()
    flame, smoke = fire_classic.FlameTracker(params), fire_classic.SmokeTracker(params, FPS)
    found = []
    for i, frame in enumerate(frames * loops):
        found += [(i, f) for f in flame.update(frame) + smoke.update(frame)]
    return found


def _ground(rgb: tuple[int, int, int], seed: int) -> np.ndarray:
    """A flat surface with a little camera noise."""
    noise = np.random.default_rng(seed).normal(0, 1.5, (HEIGHT, WIDTH, 1))
    return np.clip(np.array(rgb, np.float32) + noise, 0, 255).astype(np.uint8)


def test_an_orange_cone_that_legs_hide_and_uncover_is_not_a_flame() -> None:
    """Two legs passing in front of a cone hide all of it twice within a few frames: its pixels jump down, up,
    down, up (the flicker a flame shows), but a flame never disappears whole while it flickers."""
    frames = []
    for i in range(120):
        frame = _ground((150, 150, 150), i)
        frame[60:66, 70:76] = (240, 120, 30)  # the cone: 36 thumbnail pixels of flame colour
        if i % 30 in (10, 12):  # a leg over all of it, then the other leg two frames later
            frame[55:70, 68:78] = (40, 35, 30)
        frames.append(frame)
    assert int(fire_classic.flame_colour(frames[0]).sum()) == 36
    assert [(i, f.kind) for i, f in _run(frames)] == []


def test_a_dark_walker_crossing_a_lawn_is_not_smoke() -> None:
    """A slow person in dark clothes over a flat green lawn makes the blocks darker and greyer (smoke's
    colour change) but brings edges and moves opaquely; smoke over a lawn keeps it smooth."""
    frames = []
    for i in range(150):
        frame = _ground((70, 120, 50), i)
        x = 20 + i // 2  # half a thumbnail pixel a frame: a slow walker
        frame[50:95, x : x + 12] = (45, 45, 50)
        frame[50:95:4, x : x + 12] = (90, 90, 95)  # folds and limbs: texture
        frames.append(frame)
    assert [(i, f.kind) for i, f in _run(frames)] == []


def test_a_ghost_and_a_shadow_where_walkers_stood_are_not_smoke() -> None:
    """Where a group stood long enough to be learnt into the background and then left, the tarmac they uncover
    looks like the background softened and lightened (the learnt ghost's edges gone, their shadow lifting): but
    something opaque moved through those blocks just before, and smoke arrives smoothly. (A shadow that lifts
    more slowly than that gate, 2.4 s: test_fire_slow_shadows.py.)"""
    rng = np.random.default_rng(7)
    tarmac = np.clip(165 + rng.normal(0, 6, (HEIGHT, WIDTH, 1)), 0, 255).astype(np.float32)
    frames = []
    for i in range(300):
        frame = np.repeat(tarmac, 3, axis=2) + np.random.default_rng(i).normal(0, 1.0, (HEIGHT, WIDTH, 1))
        if 50 <= i < 110:  # people standing still for 6 s, their clothes striped: partly learnt
            frame[40:80, 60:100] -= 60
            frame[40:80:4, 60:100] += 40
        elif 110 <= i < 130:  # their shadow lifts over 2 s after they leave
            frame[40:80, 60:100] -= 20 * (130 - i) / 20
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    assert [(i, f.kind) for i, f in _run(frames)] == []


def test_the_real_clip_raises_nothing() -> None:
    """vtest.avi decoded at the normalised 640 x 480 and shrunk to the thumbnail, looped twice (the loop's
    seam included), gave 7 smoke and 6 flame findings' worth of events before the rules above."""
    if not VTEST.exists():
        pytest.skip(f"{VTEST} is absent: it comes with the Debian package opencv-doc (scripts/apt-packages.txt)")
    import av
    import cv2

    with av.open(str(VTEST)) as container:
        frames = [
            cv2.resize(
                f.to_ndarray(width=640, height=480, format="rgb24"), (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA
            )
            for f in container.decode(video=0)
        ]
    assert len(frames) > 700  # 79 s at 10 fps
    assert [(round(i / FPS, 1), f.kind, f.box) for i, f in _run(frames, loops=2)] == []
