"""Issue #26, defect 12 (client part): a flapping warning is one row with a count, not a page of rows.

The real EventPanel, EventQueue and models against the fake events API of test_event_queue_ui.py.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from tests.desktop.conftest import wait_until
from tests.desktop.test_event_queue_ui import FakeEventsApi, _arrive, api, panel  # noqa: F401
from vms_desktop.events.models.event_model import TIMES
from vms_desktop.events.widgets.event_panel import EventPanel

T0 = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)


def _event(seconds: float, event_type: str = "stream_degraded", model: str = "health",
           priority: str = "MEDIUM", camera: str = "c1") -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "camera_id": camera, "event_type": event_type, "model": model,
            "priority": priority, "status": "NEW", "tags": [], "notes": [], "confidence": 1.0,
            "timestamp": (T0 + dt.timedelta(seconds=seconds)).isoformat()}


def _rows(view: EventPanel) -> list[list[str]]:
    proxy = view.proxy
    return [[str(proxy.index(r, c).data() or "") for c in range(proxy.columnCount())]
            for r in range(proxy.rowCount())]


def _local(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).astimezone().strftime("%H:%M:%S")


async def test_repeats_collapse_into_one_row_and_a_real_event_stays_on_top(
        panel: EventPanel, api: FakeEventsApi) -> None:  # noqa: F811
    flapping = [_event(0), _event(10)]
    real = _event(15, "intrusion", "person", "HIGH")
    flapping += [_event(s) for s in (20, 30, 40, 50, 60)]
    for event in [*flapping[:2], real, *flapping[2:]]:
        _arrive(panel, api, event)
    rows = _rows(panel)
    assert len(rows) == 2, rows
    assert rows[0][3] == "intrusion", "the real event stays at the top while the warning repeats"
    assert rows[1][3] == f"stream_degraded {TIMES}7", rows
    assert rows[1][4] == _local(60), "the row shows the latest time"
    # Another camera, another model, or more than 60 s after the last repeat: rows of their own.
    for event in (_event(61, camera="c2"), _event(62, model="other"), _event(190)):
        _arrive(panel, api, event)
    assert len(_rows(panel)) == 5
    # Acknowledging the row acknowledges every event in it.
    assert panel.select_event(flapping[0]["id"])
    panel.ack.click()
    await wait_until(lambda: len(api.calls) == 7, 5, f"seven acknowledgements ({api.calls})")
    assert {c[1] for c in api.calls} == {e["id"] for e in flapping}
    assert all(c[0] == "status" and c[2] == {"status": "ACKNOWLEDGED"} for c in api.calls)
    await wait_until(lambda: any(r[3] == f"stream_degraded {TIMES}7" and r[5] == "ACKNOWLEDGED" for r in _rows(panel)),
                     5, "row acknowledged")
    # The first is no longer NEW: a repeat now starts a new row.
    _arrive(panel, api, _event(65))
    assert sum(r[3].startswith("stream_degraded") for r in _rows(panel)) == 5


async def test_resolving_a_group_resolves_all_of_it(panel: EventPanel, api: FakeEventsApi) -> None:  # noqa: F811
    group = [_event(s) for s in (0, 5, 9)]
    for event in group:
        _arrive(panel, api, event)
    assert panel.select_event(group[-1]["id"])  # any member names the row
    panel.resolve.click()
    box = panel.confirm_box
    assert box is not None and f"{TIMES}3" in box.text(), box.text() if box else None
    from PySide6.QtWidgets import QMessageBox

    box.button(QMessageBox.StandardButton.Yes).click()
    await wait_until(lambda: len(api.calls) == 3, 5, f"three resolutions ({api.calls})")
    assert {c[1] for c in api.calls} == {e["id"] for e in group}
    await wait_until(lambda: _rows(panel) == [], 5, "the resolved group leaves the open list")
