"""A user restricted to one site learns nothing of another site (issue 20, finding 6): each test is the attack.

Site B ("Depot") has a camera, a confidential evidence lock, a user of its own, a configuration override and a
shared-layout tile; the Viewer and the Supervisor are restricted to site A (the seeded "HQ").
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.conftest import PASSWORD
from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server.api.keys import HUB
from vms_server.watchdog.keys import WATCHDOG

SECRET_REASON = "internal investigation: depot manager"


@dataclass
class World:
    depot: str
    hq_camera: str
    depot_camera: str
    depot_user: str


def _camera(name: str, site: str) -> dict[str, object]:
    return {"name": name, "site_id": site, "streams": [{"role": "main", "rtsp_url": "rtsp://10.0.0.5:554/main"}]}


async def _world(api: ApiClient) -> World:
    hq = str(api.seeded.site_id)
    depot = (await api.ok("POST", "/api/v1/sites", json={"name": "Depot"}, status=201))["id"]
    hq_camera = (await api.ok("POST", "/api/v1/cameras", json=_camera("hq-1", hq), status=201))["id"]
    depot_camera = (await api.ok("POST", "/api/v1/cameras", json=_camera("depot-1", depot), status=201))["id"]
    depot_user = (await api.ok("POST", "/api/v1/users", status=201, json={
        "username": "depotguard", "password": PASSWORD, "role": "viewer", "site_ids": [depot]}))["id"]
    for role in (Role.VIEWER, Role.SUPERVISOR):
        me = await api.ok("GET", "/api/v1/auth/me", role)
        await api.ok("PATCH", f"/api/v1/users/{me['id']}", json={"site_ids": [hq]})
    return World(depot, hq_camera, depot_camera, depot_user)


async def test_evidence_locks_of_other_sites_are_neither_listed_nor_deletable(api: ApiClient) -> None:
    world = await _world(api)
    now = dt.datetime.now(dt.UTC)
    lock = await api.ok("POST", "/api/v1/evidence-locks", status=201, json={
        "camera_id": world.depot_camera, "start": (now - dt.timedelta(hours=1)).isoformat(),
        "end": now.isoformat(), "reason": SECRET_REASON})
    for role in (Role.VIEWER, Role.SUPERVISOR):
        resp = await api.call("GET", "/api/v1/evidence-locks", role)
        assert resp.status == 200 and SECRET_REASON not in await resp.text()
    assert len((await api.ok("GET", "/api/v1/evidence-locks"))["items"]) == 1  # the unrestricted admin sees it
    admin = await api.ok("GET", "/api/v1/auth/me", Role.ADMIN)
    await api.ok("PATCH", f"/api/v1/users/{admin['id']}", json={"site_ids": [str(api.seeded.site_id)]})
    assert (await api.call("DELETE", f"/api/v1/evidence-locks/{lock['id']}")).status == 404


async def test_users_of_other_sites_and_their_site_ids_are_hidden(api: ApiClient) -> None:
    world = await _world(api)
    listed = await api.ok("GET", "/api/v1/users", Role.SUPERVISOR)
    text = json.dumps(listed)
    assert "depotguard" not in text and world.depot not in text
    assert "viewer1" in text and "admin1" in text  # a user of every site concerns site A too
    assert (await api.call("GET", f"/api/v1/users/{world.depot_user}", Role.SUPERVISOR)).status == 404


async def test_configuration_of_other_sites_is_hidden_in_values_versions_and_pushes(api: ApiClient) -> None:
    world = await _world(api)
    token = (await api.login(Role.SUPERVISOR))["access_token"]
    ws = await api.client.ws_connect(f"/api/v1/ws?access_token={token}")
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    await ws.send_json({"subscribe": ["config."]})
    assert (await ws.receive_json(timeout=5))["type"] == "subscribed"

    await api.ok("PUT", "/api/v1/config/values", json={
        "scope": "camera", "scope_id": world.depot_camera, "values": {"analytics.confidence": 0.7}})
    await api.ok("PUT", "/api/v1/config/values", json={
        "scope": "site", "scope_id": str(api.seeded.site_id), "values": {"analytics.confidence": 0.6}})
    # The first push the supervisor gets is the HQ change: the depot one was never sent to them.
    pushed = await ws.receive_json(timeout=5)
    assert pushed["type"] == "config.changed"
    assert pushed["data"]["scopes"] == [{"scope": "site", "scope_id": str(api.seeded.site_id)}]
    await ws.close()

    for path in ("/api/v1/config/values", "/api/v1/config/versions"):
        text = await (await api.call("GET", path, Role.SUPERVISOR)).text()
        assert world.depot_camera not in text and str(api.seeded.site_id) in text, path
    versions = (await api.ok("GET", "/api/v1/config/versions"))["items"]
    depot_version = next(v for v in versions if v["changes"][0]["scope"] == "camera")["version"]
    resp = await api.call("GET", f"/api/v1/config/versions/{depot_version}", Role.SUPERVISOR)
    assert resp.status == 404


async def test_service_heartbeat_is_pushed_to_supervisors_only(api: ApiClient) -> None:
    sockets: dict[Role, aiohttp.ClientWebSocketResponse] = {}
    for role in (Role.VIEWER, Role.SUPERVISOR):
        token = (await api.login(role))["access_token"]
        sockets[role] = await api.client.ws_connect(f"/api/v1/ws?access_token={token}")
        assert (await sockets[role].receive_json(timeout=5))["type"] == "hello"
    await api.client.app[WATCHDOG].heartbeat_round()
    assert (await sockets[Role.SUPERVISOR].receive_json(timeout=5))["type"] == "service.heartbeat"
    # The viewer's next message is a marker published after the heartbeat: the heartbeat never reached them.
    api.client.app[HUB].publish("test.marker", {})
    assert (await sockets[Role.VIEWER].receive_json(timeout=5))["type"] == "test.marker"
    for ws in sockets.values():
        await ws.close()


async def test_statistics_and_layouts_show_only_the_callers_sites(api: ApiClient) -> None:
    world = await _world(api)
    system: dict[str, Any] = await api.ok("GET", "/api/v1/statistics/system", Role.SUPERVISOR)
    assert system["cameras"]["total"] == 1 and system["sites"] == 1
    assert (await api.ok("GET", "/api/v1/statistics/system"))["cameras"]["total"] == 2
    layout = await api.ok("POST", "/api/v1/layouts", status=201, json={"name": "wall", "rows": 1, "cols": 2, "items": [
        {"camera_id": world.hq_camera, "row": 0, "col": 0}, {"camera_id": world.depot_camera, "row": 0, "col": 1}]})
    for path in ("/api/v1/layouts", f"/api/v1/layouts/{layout['id']}"):
        text = await (await api.call("GET", path, Role.VIEWER)).text()
        assert world.hq_camera in text and world.depot_camera not in text, path


async def test_a_restricted_editor_keeps_other_sites_tiles_and_cannot_place_their_cameras(api: ApiClient) -> None:
    world = await _world(api)
    layout = await api.ok("POST", "/api/v1/layouts", status=201, json={"name": "wall", "rows": 1, "cols": 3, "items": [
        {"camera_id": world.hq_camera, "row": 0, "col": 0}, {"camera_id": world.depot_camera, "row": 0, "col": 1}]})
    path = f"/api/v1/layouts/{layout['id']}"
    # The supervisor of site A moves their tile; site B's tile, which they never saw, stays.
    await api.ok("PUT", path, Role.SUPERVISOR, json={"name": "wall", "rows": 1, "cols": 3, "items": [
        {"camera_id": world.hq_camera, "row": 0, "col": 2}]})
    tiles = {t["camera_id"]: t["col"] for t in (await api.ok("GET", path))["items"]}
    assert tiles == {world.hq_camera: 2, world.depot_camera: 1}
    over = await api.call("PUT", path, Role.SUPERVISOR, json={"name": "wall", "rows": 1, "cols": 3, "items": [
        {"camera_id": world.hq_camera, "row": 0, "col": 1}]})
    assert over.status == 409
    probe = await api.call("POST", "/api/v1/layouts", Role.SUPERVISOR, json={"name": "probe", "rows": 1, "cols": 1,
                                                                          "items": [{"camera_id": world.depot_camera,
                                                                                     "row": 0, "col": 0}]})
    assert probe.status == 422


async def test_a_site_restricted_admin_manages_only_users_of_their_own_sites(api: ApiClient) -> None:
    """A site-restricted Admin must not widen their own access (directly, or through a user they create) nor take
    over a user who has more access than they do."""
    world = await _world(api)
    hq = str(api.seeded.site_id)
    roamer = (await api.ok("POST", "/api/v1/users", status=201, json={
        "username": "roamer", "password": PASSWORD, "role": "viewer", "site_ids": [hq, world.depot]}))["id"]
    boss = (await api.ok("POST", "/api/v1/users", status=201, json={
        "username": "boss", "password": PASSWORD, "role": "admin", "site_ids": []}))["id"]
    admin = await api.ok("GET", "/api/v1/auth/me", Role.ADMIN)
    await api.ok("PATCH", f"/api/v1/users/{admin['id']}", json={"site_ids": [hq]})

    for sites in ([], [hq, world.depot], [world.depot]):
        resp = await api.call("PATCH", f"/api/v1/users/{admin['id']}", json={"site_ids": sites})
        assert resp.status == 403 and (await resp.json())["error"]["code"] == "site_restricted", sites
        resp = await api.call("POST", "/api/v1/users", json={
            "username": f"mole{len(sites)}", "password": PASSWORD, "role": "admin", "site_ids": sites})
        assert resp.status == 403, sites
    assert (await api.call("GET", "/api/v1/cameras/" + world.depot_camera)).status == 404  # still site A only
    # Another site's user is not there; users with more access are there to see, not to change.
    assert (await api.call("PATCH", f"/api/v1/users/{world.depot_user}", json={"disabled": True})).status == 404
    for user_id, change in ((roamer, {"password": PASSWORD + "-new"}), (boss, {"reset_mfa": True}),
                            (boss, {"disabled": True})):
        resp = await api.call("PATCH", f"/api/v1/users/{user_id}", json=change)
        assert resp.status == 403, change
    assert (await api.ok("GET", f"/api/v1/users/{roamer}"))["site_ids"] == [hq]
    # Their own site's users are theirs to manage.
    local = await api.ok("POST", "/api/v1/users", status=201, json={
        "username": "local", "password": PASSWORD, "role": "viewer", "site_ids": [hq]})
    changed = await api.ok("PATCH", f"/api/v1/users/{local['id']}", json={"disabled": True, "role": "supervisor"})
    assert changed["disabled"] and changed["role"] == "supervisor" and changed["site_ids"] == [hq]


async def test_a_site_restricted_admin_cannot_change_what_every_site_shares(api: ApiClient) -> None:
    """The licence, retention, the cloud link, notification channels, system or customer configuration, model
    thresholds, new sites: each concerns every site, so an Admin restricted to one gets 403 `site_restricted`
    (an unrestricted Admin is refused nothing of this by the check: the same calls reach validation)."""
    hq = str(api.seeded.site_id)
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/api/v1/licence", {}),
        ("PUT", "/api/v1/recording/retention", {}),
        ("PUT", "/api/v1/sync", {}),
        ("POST", "/api/v1/sync/enrol", {}),
        ("POST", "/api/v1/notifications/channels", {}),
        ("POST", "/api/v1/config/versions/1/restore", None),
        ("PUT", "/api/v1/analytics/thresholds/motion", {}),
        ("POST", "/api/v1/sites", {"name": "Annex"}),
        ("PUT", "/api/v1/config/values", {"scope": "system", "values": {"analytics.confidence": 0.9}}),
        ("PUT", "/api/v1/config/values", {"scope": "customer", "scope_id": str(api.seeded.customer_id),
                                          "values": {"analytics.confidence": 0.9}}),
    ]
    for method, path, body in calls:  # unrestricted: the check lets them through (to validation or success)
        resp = await api.call(method, path, json=body) if body is not None else await api.call(method, path)
        assert resp.status != 403, (method, path, await resp.text())
    admin = await api.ok("GET", "/api/v1/auth/me", Role.ADMIN)
    await api.ok("PATCH", f"/api/v1/users/{admin['id']}", json={"site_ids": [hq]})
    for method, path, body in calls:
        resp = await api.call(method, path, json=body) if body is not None else await api.call(method, path)
        assert resp.status == 403, (method, path, resp.status)
        assert (await resp.json())["error"]["code"] == "site_restricted", (method, path)
    # Their own site's configuration is theirs to set.
    await api.ok("PUT", "/api/v1/config/values", json={"scope": "site", "scope_id": hq,
                                                        "values": {"analytics.confidence": 0.8}})
