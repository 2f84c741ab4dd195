"""Loss in the fan-out: GOPs a consumer that fell behind dropped (issue 21, loss accounting).

A slow consumer (analytics decoding on a loaded machine) must not hold up the ingest thread, so it drops what
it has queued and restarts at the next keyframe: whole GOPs are lost to it, though not to recording. Ingest knows
none of its consumers; one that drops says so by carrying ``dropped`` (times it dropped a backlog: GOPs) and
``dropped_frames`` (pictures thrown away), and this sums them for a camera's status, metrics and health.
"""

from __future__ import annotations

from collections.abc import Iterable


def consumer_drops(consumers: Iterable[object]) -> dict[str, int]:
    """``{"gops": n, "frames": m}`` dropped by these consumers since they started (0 for those that never drop)."""
    gops = frames = 0
    for consumer in consumers:
        gops += int(getattr(consumer, "dropped", 0) or 0)
        frames += int(getattr(consumer, "dropped_frames", 0) or 0)
    return {"gops": gops, "frames": frames}
