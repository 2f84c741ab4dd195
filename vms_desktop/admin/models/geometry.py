"""The shapes drawn on a camera's picture and where they go in a model's config.

The server's models take their geometry as lists of objects in normalised picture coordinates (0..1):
zones (`points`: a polygon), lines with a direction (`a`, `b`, `inside`: intrusion lines, tailgating doors)
and regions (`box`: x1, y1, x2, y2, missing object). Which config field holds which kind is read from the
model's JSON schema rather than listed per model, so a plugin with a zones field gets the same editor."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)
POLYGON, LINE, RECT = "polygon", "line", "rect"
Point = tuple[float, float]


@dataclass
class Shape:
    """One drawn shape; `extra` keeps the object's other settings (name, alarm, mode) across an edit."""

    kind: str
    points: list[Point]
    extra: dict[str, Any] = field(default_factory=dict)

    def flip(self) -> None:
        """A line's inside goes to the other side (the arrow turns round)."""
        if self.kind == LINE:
            self.extra["inside"] = "right" if self.extra.get("inside", "left") == "left" else "left"


def clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return dict(schema.get("$defs", {}).get(ref.rsplit("/", 1)[1], {}))
    return node


def geometry_fields(schema: dict[str, Any]) -> dict[str, str]:
    """Config field -> shape kind, for the array fields of a model's schema whose items are zones, lines or
    regions."""
    found: dict[str, str] = {}
    for name, prop in schema.get("properties", {}).items():
        if prop.get("type") != "array" or not isinstance(prop.get("items"), dict):
            continue
        item = _resolve(schema, prop["items"]).get("properties", {})
        if "points" in item:
            found[name] = POLYGON
        elif "a" in item and "b" in item:
            found[name] = LINE
        elif "box" in item:
            found[name] = RECT
    return found


def shapes_from_config(config: dict[str, Any], fields: dict[str, str]) -> list[Shape]:
    shapes: list[Shape] = []
    for name, kind in fields.items():
        for item in config.get(name) or []:
            extra = {k: v for k, v in item.items() if k not in ("points", "a", "b", "box")}
            if kind == POLYGON:
                points = [(float(x), float(y)) for x, y in item.get("points", [])]
            elif kind == LINE:
                points = [(float(item["a"][0]), float(item["a"][1])), (float(item["b"][0]), float(item["b"][1]))]
            else:
                x1, y1, x2, y2 = item["box"]
                points = [(float(x1), float(y1)), (float(x2), float(y2))]
            shapes.append(Shape(kind, points, extra))
    return shapes


def config_geometry(shapes: list[Shape], fields: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """The config fields the drawn shapes fill (every geometry field, empty when nothing of its kind is drawn),
    coordinates rounded to 4 decimals (a tenth of a pixel at 1080p) and clamped into the picture."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, kind in fields.items():
        items: list[dict[str, Any]] = []
        for number, shape in enumerate((s for s in shapes if s.kind == kind), start=1):
            pts = [(round(clamp(x), 4), round(clamp(y), 4)) for x, y in shape.points]
            item = {"name": f"{name.rstrip('s')} {number}", **shape.extra}
            if kind == POLYGON:
                item["points"] = [list(p) for p in pts]
            elif kind == LINE:
                item["a"], item["b"] = list(pts[0]), list(pts[1])
                item.setdefault("inside", "left")
            else:
                (x1, y1), (x2, y2) = pts
                item["box"] = [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)]
            items.append(item)
        out[name] = items
    return out


def mask_shapes(mask: list[dict[str, Any]]) -> list[Shape]:
    """The recording policy's motion mask ({x, y, w, h} rectangles) as rectangles."""
    return [Shape(RECT, [(float(m["x"]), float(m["y"])), (float(m["x"]) + float(m["w"]),
                                                        float(m["y"]) + float(m["h"]))]) for m in mask]


def mask_rects(shapes: list[Shape]) -> list[dict[str, float]]:
    rects = []
    for shape in shapes:
        if shape.kind != RECT:
            continue
        (x1, y1), (x2, y2) = [(clamp(x), clamp(y)) for x, y in shape.points]
        rects.append({"x": round(min(x1, x2), 4), "y": round(min(y1, y2), 4),
                      "w": round(abs(x2 - x1), 4), "h": round(abs(y2 - y1), 4)})
    return rects
