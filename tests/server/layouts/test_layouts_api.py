"""Shared layouts API: supervisors publish, everyone of the organisation reads, bad grids are refused."""

from __future__ import annotations

from typing import Any

from vms_common.auth.roles import Role


async def _camera(api: Any) -> str:
    body = {"name": "door", "site_id": str(api.seeded.site_id),
            "streams": [{"role": "main", "rtsp_url": "rtsp://127.0.0.1:9/none"}]}
    return str((await api.ok("POST", "/api/v1/cameras", json=body, status=201))["id"])


async def test_publish_read_replace_delete(api: Any) -> None:
    cam = await _camera(api)
    layout = {"name": "Lobby wall", "rows": 2, "cols": 2,
              "items": [{"camera_id": cam, "row": 0, "col": 0, "row_span": 2, "col_span": 1}]}
    assert (await api.call("POST", "/api/v1/layouts", Role.VIEWER, json=layout)).status == 403
    created = await api.ok("POST", "/api/v1/layouts", Role.SUPERVISOR, status=201, json=layout)
    assert created["created_by"] == "supervisor1" and created["items"][0]["row_span"] == 2
    listed = await api.ok("GET", "/api/v1/layouts", Role.VIEWER)
    assert [item["name"] for item in listed["items"]] == ["Lobby wall"]
    resp = await api.call("POST", "/api/v1/layouts", Role.SUPERVISOR, json=layout)
    assert resp.status == 409
    changed = await api.ok("PUT", f"/api/v1/layouts/{created['id']}", Role.SUPERVISOR,
                           json={**layout, "rows": 3, "cols": 3})
    assert (changed["rows"], changed["cols"]) == (3, 3)
    await api.ok("DELETE", f"/api/v1/layouts/{created['id']}", Role.SUPERVISOR, status=204)
    assert (await api.call("GET", f"/api/v1/layouts/{created['id']}", Role.VIEWER)).status == 404


async def test_grids_that_do_not_fit_are_refused(api: Any) -> None:
    cam = await _camera(api)
    outside = {"name": "x", "rows": 2, "cols": 2, "items": [{"camera_id": cam, "row": 1, "col": 1, "col_span": 2}]}
    resp = await api.call("POST", "/api/v1/layouts", Role.SUPERVISOR, json=outside)
    assert resp.status == 422 and "leaves" in await resp.text()
    overlap = {"name": "y", "rows": 2, "cols": 2, "items": [
        {"camera_id": cam, "row": 0, "col": 0, "row_span": 2}, {"camera_id": cam, "row": 1, "col": 0}]}
    assert (await api.call("POST", "/api/v1/layouts", Role.SUPERVISOR, json=overlap)).status == 422
    assert (await api.call("POST", "/api/v1/layouts", Role.SUPERVISOR, json={"name": "z", "rows": 7,
                                                                             "cols": 2})).status == 422
    # The desktop's largest wall, 6x6, is shared like any other (its last tile at row 5, column 5).
    wall = {"name": "6x6", "rows": 6, "cols": 6, "items": [{"camera_id": cam, "row": 5, "col": 5}]}
    assert (await api.ok("POST", "/api/v1/layouts", Role.SUPERVISOR, status=201, json=wall))["rows"] == 6
