"""One cluster node in-process on PostgreSQL: its lease row, the admin API, pins, the fencing checks; and a single
server on SQLite, where clustering stays off (and is refused if asked for)."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import _truncate, make_settings, seed
from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server.cameras.models import Camera, CameraStream
from vms_server.cluster import assign
from vms_server.cluster.keys import CLUSTER
from vms_server.cluster.models import CameraAssignment, ClusterNode
from vms_server.recording.segments import SegmentResult
from vms_server.settings import SettingsError

pytestmark = pytest.mark.postgres
CLUSTERED = {"enabled": True, "node_id": "alpha", "heartbeat_s": 0.5, "lease_s": 30}  # no expiry under load


@pytest.fixture
async def node(tmp_path: Path, pg_url: str, aiohttp_client: Any) -> AsyncIterator[ApiClient]:
    from vms_server.app import create_app

    settings = make_settings(tmp_path / "data", pg_url, cluster=CLUSTERED,
                             recording={"backoff_initial_s": 5, "backoff_max_s": 5})
    seeded = await seed(settings)
    client = await aiohttp_client(create_app(settings))
    yield ApiClient(client, seeded)
    await client.close()
    await _truncate(pg_url)


async def _camera(api: ApiClient, *assignment: CameraAssignment) -> uuid.UUID:
    async with api.client.app[CLUSTER]._sessions.begin() as session:
        camera = Camera(customer_id=api.seeded.customer_id, site_id=api.seeded.site_id, name="c1")
        camera.streams = [CameraStream(role="main", rtsp_url="rtsp://127.0.0.1:9/nothing-listens")]
        session.add(camera)
        await session.flush()
        for row in assignment:
            row.camera_id = camera.id
            session.add(row)
        return camera.id


async def test_node_list_pin_and_roles(node: ApiClient) -> None:
    body = await node.ok("GET", "/api/v1/cluster/nodes")
    assert body["enabled"] is True and body["node_id"] == "alpha"
    [me] = body["nodes"]
    assert me["id"] == "alpha" and me["state"] == "alive" and me["cores"] >= 1 and me["max_cameras"] >= 32
    await node.ok("GET", "/api/v1/cluster/nodes", Role.SUPERVISOR, status=403)

    camera_id = await _camera(node)
    await node.ok("PUT", f"/api/v1/cluster/cameras/{uuid.uuid4()}/pin", json={"node_id": "alpha"}, status=404)
    await node.ok("PUT", f"/api/v1/cluster/cameras/{camera_id}/pin", json={"node_id": "no spaces"}, status=422)
    pinned = await node.ok("PUT", f"/api/v1/cluster/cameras/{camera_id}/pin", json={"node_id": "alpha"})
    assert pinned["pinned_node"] == "alpha"
    service = node.client.app[CLUSTER]

    async def owned() -> bool:
        return camera_id in service.owned

    deadline = asyncio.get_running_loop().time() + 20
    while not await owned():
        assert asyncio.get_running_loop().time() < deadline, "the round never assigned the camera"
        await asyncio.sleep(0.2)
    body = await node.ok("GET", "/api/v1/cluster/nodes")
    assert body["nodes"][0]["cameras"] == 1 and body["unassigned_cameras"] == 0
    assert service.may_write(camera_id) and not service.may_write(uuid.uuid4())
    owner = await node.ok("GET", f"/api/v1/cluster/cameras/{camera_id}", Role.VIEWER)
    assert owner["node_id"] == "alpha" and owner["node_url"] == body["nodes"][0]["url"]
    await node.ok("GET", f"/api/v1/cluster/cameras/{uuid.uuid4()}", Role.VIEWER, status=404)


async def test_the_index_refuses_a_segment_of_a_camera_that_moved_away(node: ApiClient, tmp_path: Path) -> None:
    service = node.client.app[CLUSTER]
    moved_at = dt.datetime.now(dt.UTC)
    async with service._sessions.begin() as session:  # beta: a live node (its lease far ahead) owning the camera
        session.add(ClusterNode(id="beta", lease_until=moved_at + dt.timedelta(hours=1)))
    camera_id = await _camera(node, CameraAssignment(node_id="beta", token=7, assigned_at=moved_at,
                                                     pinned_node="beta"))
    volume = tmp_path / "vol"
    (volume / "c").mkdir(parents=True)

    def segment(name: str, end: dt.datetime) -> SegmentResult:
        (volume / "c" / name).write_bytes(b"x")
        end_us = int(end.timestamp() * 1e6)
        return SegmentResult(str(camera_id), "main", str(volume), f"c/{name}", end_us - 2_000_000, end_us, 20, 1,
                             "h264", 320, 240, "continuous")

    before = segment("before.mp4", moved_at - dt.timedelta(seconds=5))
    after = segment("after.mp4", moved_at + dt.timedelta(seconds=30))
    async with service._sessions.begin() as session:
        kept = await service.admit(session, [before, after])
    assert kept == [before], "footage from before the move is kept, footage after it is fenced"
    assert (volume / "c" / "after.mp4.fenced").exists() and not (volume / "c" / "after.mp4").exists()
    assert not service.may_write(camera_id), "beta holds the token: alpha must not write"

    async with service._sessions.begin() as session:  # back to alpha: its own segments are indexed
        await session.execute(update(CameraAssignment).values(node_id="alpha", token=8, pinned_node="alpha"))
    async with service._sessions.begin() as session:
        assert await service.admit(session, [after]) == [after]


async def test_a_node_that_cannot_renew_its_lease_stops_writing(node: ApiClient) -> None:
    service = node.client.app[CLUSTER]
    camera_id = uuid.uuid4()
    service.owned[camera_id] = 1
    assert service.may_write(camera_id)
    service.lease_ok_until = 0.0  # as if the last renewal was longer ago than the lease
    assert not service.may_write(camera_id)


async def test_single_server_has_no_cluster_and_refuses_one_on_sqlite(tmp_path: Path, sqlite_template: Path,
                                                                      aiohttp_client: Any) -> None:
    from vms_server.app import create_app

    db = tmp_path / "vms.db"
    shutil.copy(sqlite_template, db)
    settings = make_settings(tmp_path / "data", f"sqlite+aiosqlite:///{db}", recording={"enabled": False})
    api = ApiClient(await aiohttp_client(create_app(settings)), await seed(settings))
    body = await api.ok("GET", "/api/v1/cluster/nodes")
    assert body == {"enabled": False, "node_id": None, "unassigned_cameras": 0, "nodes": []}
    assert CLUSTER not in api.client.app

    clustered = settings.model_copy(update={"cluster": settings.cluster.model_copy(update={"enabled": True})})
    with pytest.raises(SettingsError, match="PostgreSQL"):
        await aiohttp_client(create_app(clustered))


async def test_a_node_sharing_a_volume_path_is_reported(node: ApiClient, caplog: pytest.LogCaptureFixture) -> None:
    service = node.client.app[CLUSTER]
    mine = str(service._volumes[0])
    async with service._sessions.begin() as session:
        session.add(ClusterNode(id="gamma", lease_until=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
                                disks=[{"path": mine, "free_bytes": 1, "total_bytes": 2}]))
    with caplog.at_level("ERROR", logger="vms_server.cluster.service"):
        await service._check_volumes()
    assert f"node gamma records into {mine} too" in caplog.text


async def test_retention_on_a_node_leaves_other_nodes_segments_alone(node: ApiClient) -> None:
    """Another node's files are on its disks: deleting their rows here would leave them there for good."""
    from vms_server.recording.keys import RECORDER
    from vms_server.recording.models import RecordingSegment
    from vms_server.recording.storage import apply_retention

    recorder = node.client.app[RECORDER]
    assert recorder.own_volumes_only, "the cluster node's retention is scoped to its own volumes"
    camera_id = await _camera(node)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    mine = str(recorder.volumes.volumes[0].path)
    async with recorder.sessions.begin() as session:
        for volume in (mine, "/srv/other-node/recordings"):
            session.add(RecordingSegment(camera_id=camera_id, stream="main", start_at=old,
                                         end_at=old + dt.timedelta(seconds=2), duration_s=2.0, frames=20, bytes=1,
                                         volume=volume, path=f"{camera_id}/old.mp4", codec="h264", width=320,
                                         height=240, reason="continuous"))
    async with recorder.sessions() as session:
        deleted = await apply_retention(session, recorder.volumes, 30.0, {camera_id: node.seeded.customer_id},
                                        dt.datetime.now(dt.UTC), own_only=True)
    async with recorder.sessions() as session:
        left = (await session.scalars(select(RecordingSegment.volume))).all()
    assert deleted == 1 and left == ["/srv/other-node/recordings"]


async def test_rows_locked_by_the_indexer_still_count_for_the_balance(node: ApiClient) -> None:
    """alpha records two cameras, beta one: balanced. While the indexer holds beta's row FOR SHARE (admitting a
    segment), the rounds must not see beta as empty and hand one of alpha's cameras over (it did: cameras went
    back and forth after a failback)."""
    service = node.client.app[CLUSTER]
    now = dt.datetime.now(dt.UTC)
    async with service._sessions.begin() as session:
        session.add(ClusterNode(id="beta", lease_until=now + dt.timedelta(hours=1),
                                max_cameras=service.capacity.max_cameras))  # alpha's room: even shares
    ids = []
    async with service._sessions.begin() as session:
        for name, owner in (("a1", "alpha"), ("a2", "alpha"), ("b1", "beta")):
            camera = Camera(customer_id=node.seeded.customer_id, site_id=node.seeded.site_id, name=name)
            camera.streams = [CameraStream(role="main", rtsp_url="rtsp://127.0.0.1:9/nothing-listens")]
            session.add(camera)
            await session.flush()
            session.add(CameraAssignment(camera_id=camera.id, node_id=owner, token=1, assigned_at=now))
            ids.append(camera.id)
    async with service._sessions.begin() as holder:  # the indexer's lock on beta's row, held over several rounds
        await holder.execute(select(CameraAssignment).where(CameraAssignment.camera_id == ids[2])
                             .with_for_update(read=True))
        decided = None
        for _ in range(50):  # alpha's own heartbeat takes the round lock now and then
            async with service._sessions.begin() as session:
                decided = await assign.coordinate(session, 8)
            if decided is not None:
                break
            await asyncio.sleep(0.1)
        assert decided is not None and not decided.hand_over and not decided.assign, decided
        await asyncio.sleep(1.5)  # alpha's rounds (every 0.5 s) while the lock is held
    async with service._sessions() as session:
        rows = (await session.scalars(select(CameraAssignment).where(CameraAssignment.camera_id.in_(ids)))).all()
    assert {r.camera_id: (r.node_id, r.moving_to) for r in rows} == {
        ids[0]: ("alpha", None), ids[1]: ("alpha", None), ids[2]: ("beta", None)}
