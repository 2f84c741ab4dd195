"""Dates outside what footage can have (issue 21): a date at year 1 or 9999 with an offset answered 500
(OverflowError moving it to UTC); every footage route now refuses a date before 1970 or more than ten years
ahead with a 422 naming the bounds, and a timeline is bounded like playback and export."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera
from vms_common.auth.roles import Role

LATE = "9999-12-31T23:59:59-05:00"
EARLY = "0001-01-01T00:00:00+05:00"
AHEAD = (dt.datetime.now(dt.UTC) + dt.timedelta(days=365 * 11)).isoformat()
BEFORE_EPOCH = "1969-12-31T23:00:00Z"


async def _refused(api: ApiClient, method: str, url: str, role: Role, **kwargs: Any) -> None:
    response = await api.call(method, url, role, **kwargs)
    body = await response.json()
    assert response.status == 422, (url, kwargs, body)
    assert "between 1970-01-01 and 10 years from now" in str(body["error"]), body


async def test_dates_out_of_bounds_are_422_with_the_bounds(lite_api: ApiClient) -> None:
    cam = await add_camera(lite_api, "rtsp://127.0.0.1:9/nothing")
    now = dt.datetime.now(dt.UTC).isoformat()
    for bad in (LATE, EARLY, AHEAD, BEFORE_EPOCH):
        period = {"start": bad, "end": now} if bad in (EARLY, BEFORE_EPOCH) else {"start": now, "end": bad}
        await _refused(lite_api, "GET", f"/api/v1/cameras/{cam}/recordings", Role.VIEWER, params=period)
        await _refused(lite_api, "GET", f"/api/v1/cameras/{cam}/snapshot", Role.VIEWER, params={"at": bad})
        await _refused(lite_api, "GET", f"/api/v1/cameras/{cam}/playback.mp4", Role.VIEWER,
                       params={"start": bad, "end": bad})
        await _refused(lite_api, "POST", "/api/v1/exports", Role.VIEWER,
                       json={"camera_id": cam, "start": bad, "end": bad})
        await _refused(lite_api, "POST", "/api/v1/evidence-locks", Role.SUPERVISOR,
                       json={"camera_id": cam, "start": bad, "end": bad, "reason": "x"})
    # Within the bounds, even nine years ahead and with an offset, the answers are the usual ones.
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=365 * 9)).astimezone(dt.timezone(dt.timedelta(hours=-5)))
    timeline = await lite_api.ok("GET", f"/api/v1/cameras/{cam}/recordings", Role.VIEWER, params={
        "start": (soon - dt.timedelta(hours=1)).isoformat(), "end": soon.isoformat()})
    assert timeline["ranges"] == [] and len(timeline["gaps"]) == 1
    missing = await lite_api.call("GET", f"/api/v1/cameras/{cam}/snapshot", Role.VIEWER,
                                  params={"at": soon.isoformat()})
    assert missing.status == 404


async def test_a_ten_year_timeline_is_refused_a_year_answered(lite_api: ApiClient) -> None:
    cam = await add_camera(lite_api, "rtsp://127.0.0.1:9/nothing")
    end = dt.datetime.now(dt.UTC)
    response = await lite_api.call("GET", f"/api/v1/cameras/{cam}/recordings", Role.VIEWER, params={
        "start": (end - dt.timedelta(days=3652)).isoformat(), "end": end.isoformat()})
    body = await response.json()
    assert response.status == 403 and body["error"]["code"] == "range_too_long", body
    year = await lite_api.ok("GET", f"/api/v1/cameras/{cam}/recordings", Role.VIEWER, params={
        "start": (end - dt.timedelta(days=365)).isoformat(), "end": end.isoformat()})
    assert year["ranges"] == [] and len(year["gaps"]) == 1
