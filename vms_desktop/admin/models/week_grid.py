"""A recording schedule as a week grid of hours, and back to the server's schedule windows.

The server takes windows `{"days": [0..6], "start": "HH:MM", "end": "HH:MM"}` (0 = Monday, end "24:00" for the
end of the day, an end before the start wraps past midnight). The administrator paints hours on a 7 x 24 grid;
runs of hours become windows, and days with the same run share one window, so that "weekdays 08-18" is one
window, not five.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HOURS = 24
Grid = set[tuple[int, int]]  # (day 0..6, hour 0..23) cells that record


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes or 0)


def grid_from_windows(windows: list[dict[str, Any]]) -> Grid:
    """The hours a schedule covers (partly covered hours count: the grid's unit is an hour)."""
    cells: Grid = set()
    for window in windows:
        start, end = _minutes(str(window["start"])), _minutes(str(window["end"]))
        for day in window.get("days", []):
            if end > start:
                spans = [(int(day), start, end)]
            else:  # past midnight into the next day
                spans = [(int(day), start, HOURS * 60), ((int(day) + 1) % 7, 0, end)]
            for d, first, last in spans:
                cells.update((d, hour) for hour in range(first // 60, -(-last // 60)))
    return cells


def windows_from_grid(cells: Grid) -> list[dict[str, Any]]:
    """Schedule windows for the painted hours: one per distinct run, listing every day that has it."""
    runs: dict[tuple[int, int], list[int]] = defaultdict(list)
    for day in range(7):
        hour = 0
        while hour < HOURS:
            if (day, hour) not in cells:
                hour += 1
                continue
            start = hour
            while hour < HOURS and (day, hour) in cells:
                hour += 1
            runs[(start, hour)].append(day)
    return [{"days": days, "start": f"{start:02d}:00", "end": f"{end:02d}:00"}
            for (start, end), days in sorted(runs.items(), key=lambda item: (item[1][0], item[0]))]
