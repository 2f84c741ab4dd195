"""The cameras' configurations of the abnormal-behaviour and missing-object models for the simulator's
`behaviour` and `objects` scenes (vms_camsim.scenes_behaviour), shared by the scene and end-to-end tests."""

from __future__ import annotations

from typing import Any

from vms_camsim.scenes_behaviour import BEHAVIOUR_ZONES, HAPPENINGS, OBJECT_REGIONS
from vms_server.analytics.evaluation import Interval

RULES: dict[str, dict[str, Any]] = {
    "bus stop": {"loiter_s": 8.0},
    "square": {"group_size": 3, "group_radius": 0.2, "dispersal_s": 2.0, "dispersal_factor": 1.8},
    "corridor": {"run_speed": 0.25},
    "one-way": {"direction": [1.0, 0.0], "wrong_way_speed": 0.05, "wrong_way_s": 1.0},
    "running track": {},  # running allowed: nothing watched
}
OFF = {"loiter_s": None, "run_speed": None, "group_size": None}


def behaviour_config(detector: str) -> dict[str, Any]:
    zones = [{"name": name, "points": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], **OFF, **RULES[name]}
             for name, (x0, y0, x1, y1) in BEHAVIOUR_ZONES.items()]
    return {"detector_path": detector, "behaviour_zones": zones}


def objects_config(detector: str, alarm_after_s: float = 4.0) -> dict[str, Any]:
    modes = {"extinguisher": "missing", "floor": "left_behind"}
    return {"detector_path": detector, "alarm_after_s": alarm_after_s,
            "regions": [{"name": n, "box": list(b), "mode": modes[n]} for n, b in OBJECT_REGIONS.items()]}


def truth(scene: str, t0: float, label: str) -> list[Interval]:
    return [Interval(str(h[label]), t0 + h["t"], t0 + h["end"]) for h in HAPPENINGS[scene]]
