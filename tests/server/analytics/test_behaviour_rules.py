"""The abnormal-behaviour and missing-object rule engines alone, on made-up tracks and patches."""

from __future__ import annotations

import uuid

import numpy as np

from vms_server.analytics.behaviour_rules import BehaviourEngine, BehaviourZone, Finding, TrackedPerson
from vms_server.analytics.region_watch import RegionWatch

ALL = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
IDS = [uuid.uuid4() for _ in range(6)]


def zone(**kw: object) -> BehaviourZone:
    base: dict[str, object] = {"name": "z", "points": ALL, "loiter_s": None, "run_speed": None, "group_size": None}
    return BehaviourZone.model_validate(base | kw)


def run(engine: BehaviourEngine, seconds: float, where: dict[uuid.UUID, tuple[float, float, float, float]],
        fps: float = 5.0, t0: float = 0.0) -> list[Finding]:
    """People moving at constant velocity: `where` maps a track to its feet (x, y) and velocity (per second,
    normalised units); boxes are 0.05 x 0.2."""
    out = []
    for i in range(round(seconds * fps)):
        ts = t0 + i / fps
        people = [TrackedPerson(t, (x + vx * ts - 0.025, y + vy * ts - 0.2, 0.05, 0.2), 0.9)
                  for t, (x, y, vx, vy) in where.items()]
        out += engine.update(ts, 1.0, people)
    return out


def reasons(found: list[Finding]) -> set[str]:
    return {f.reason for f in found}


def test_loitering_only_beyond_the_dwell() -> None:
    still = {IDS[0]: (0.5, 0.8, 0.0, 0.0)}
    assert run(BehaviourEngine([zone(loiter_s=10.0)]), 9.0, still) == []
    found = run(BehaviourEngine([zone(loiter_s=10.0)]), 12.0, still)
    assert reasons(found) == {"loitering"}
    assert 10.0 <= found[0].ts <= 10.3 and found[0].track_id == IDS[0]


def test_running_needs_the_speed_and_perspective_counts() -> None:
    walker = {IDS[0]: (0.1, 0.9, 0.2, 0.0)}  # 0.2 image heights per second near the camera
    assert run(BehaviourEngine([zone(run_speed=0.5)]), 4.0, walker) == []
    runner = {IDS[0]: (0.05, 0.9, 0.6, 0.0)}
    assert reasons(run(BehaviourEngine([zone(run_speed=0.5)]), 1.5, runner)) == {"running"}
    # Far away (top of the zone, where people look half as big) half the image speed is the same running.
    far = {IDS[0]: (0.05, 0.01, 0.3, 0.0)}
    assert run(BehaviourEngine([zone(run_speed=0.5)]), 3.0, far) == []
    assert reasons(run(BehaviourEngine([zone(run_speed=0.5, far_scale=0.5)]), 3.0, far)) == {"running"}
    # A zone where running is allowed: nothing.
    assert run(BehaviourEngine([zone()]), 1.5, runner) == []


def test_wrong_way_against_the_zone_direction_only() -> None:
    rules = zone(direction=(1.0, 0.0), wrong_way_s=1.0)
    assert run(BehaviourEngine([rules]), 4.0, {IDS[0]: (0.1, 0.8, 0.2, 0.0)}) == []
    found = run(BehaviourEngine([rules]), 4.0, {IDS[0]: (0.9, 0.8, -0.2, 0.0)})
    assert reasons(found) == {"wrong_way"}
    assert found[0].details["speed_against"] > 0.15
    # Crossing the zone (perpendicular to its direction) is not wrong-way either.
    assert run(BehaviourEngine([rules]), 4.0, {IDS[0]: (0.5, 0.5, 0.0, 0.1)}) == []


def test_dispersal_of_a_group_not_of_people_walking_apart_slowly() -> None:
    rules = zone(group_size=3, group_radius=0.1, dispersal_s=2.0, dispersal_factor=3.0)
    engine = BehaviourEngine([rules])
    group = {IDS[i]: (0.5 + dx, 0.6, 0.0, 0.0) for i, dx in enumerate((-0.04, 0.0, 0.04))}
    assert run(engine, 4.0, group) == []  # standing together
    scatter = {IDS[i]: (0.5 + dx - v * 4.0, 0.6, v, 0.0) for i, (dx, v) in
               enumerate(((-0.04, -0.3), (0.0, 0.0), (0.04, 0.3)))}
    found = run(engine, 2.0, scatter, t0=4.0)
    assert reasons(found) == {"dispersal"} and found[0].details["count"] == 3
    slow = BehaviourEngine([rules])
    run(slow, 4.0, group)
    drift = {IDS[i]: (0.5 + dx - v * 4.0, 0.6, v, 0.0) for i, (dx, v) in
             enumerate(((-0.04, -0.02), (0.0, 0.0), (0.04, 0.02)))}
    assert run(slow, 6.0, drift, t0=4.0) == []


def _patch(seed: int, gain: float = 1.0, offset: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, (24, 16)).astype(np.float32)
    return np.clip(base * gain + offset, 0, 255).astype(np.uint8)


def test_region_watch_missing_occluded_and_lighting() -> None:
    watch = RegionWatch("extinguisher", mismatch=0.45, alarm_after_s=3.0, adapt_rate=0.05)
    obj, wall = _patch(1), np.full((24, 16), 120, np.uint8)
    assert watch.update(obj, 0.0, occluded=False) is None  # learns the reference
    # Slow lighting change: 40 % darker over 60 s, never a mismatch.
    for i in range(1, 121):
        assert watch.update(_patch(1, gain=1.0 - 0.4 * i / 120, offset=-10 * i / 120), i * 0.5, False) is None
    # A person in front: the region differs but is not judged.
    for i in range(20):
        assert watch.update(wall, 61.0 + i * 0.5, occluded=True) is None
    # Gone: after 3 s of an unoccluded mismatch, the event, dated at its start.
    starts = [watch.update(wall, 71.0 + i * 0.5, occluded=False) for i in range(10)]
    assert starts[:6] == [None] * 6 and set(starts[6:]) == {71.0}
    assert watch.update(_patch(1, gain=0.6, offset=-10), 80.0, False) is None  # back: it matches again


def test_region_watch_left_behind_is_the_same_machinery() -> None:
    watch = RegionWatch("floor", mismatch=0.45, alarm_after_s=2.0, adapt_rate=0.05)
    rng = np.random.default_rng(3)
    floor = [np.clip(100 + rng.normal(0, 2, (24, 16)), 0, 255).astype(np.uint8) for _ in range(30)]
    assert all(watch.update(f, i * 0.5, False) is None for i, f in enumerate(floor))  # sensor noise only
    bag = floor[0].copy()
    bag[8:20, 4:12] = 40
    starts = [watch.update(bag, 15.0 + i * 0.5, False) for i in range(6)]
    assert starts[:4] == [None] * 4 and starts[4] == 15.0
