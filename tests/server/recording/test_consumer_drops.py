"""Loss accounting (issue 21): GOPs a consumer that fell behind dropped are counted (analytics' IngestSource
drops its backlog and restarts at a keyframe) and reported in the camera status and the health line."""

from __future__ import annotations

import uuid
from typing import Any

from tests.server.helpers import ApiClient
from tests.server.recording.conftest import add_camera, wait_for
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_server.analytics.ingest_source import IngestSource
from vms_server.ingest.consumer_loss import consumer_drops
from vms_server.ingest.keys import INGEST
from vms_server.ingest.worker import MediaPacket


class _Worker:
    def add(self, consumer: Any) -> None:
        pass

    def remove(self, consumer: Any) -> None:
        pass


def _packet(i: int) -> MediaPacket:
    return MediaPacket(packet=b"\x00\x00\x00\x01\x65" + bytes([i]), pts=i, dts=i, wall_us=i * 100_000,
                       keyframe=i % 5 == 0, size=6)


def test_a_consumer_that_falls_behind_counts_what_it_drops() -> None:
    source = IngestSource(_Worker(), max_packets=5)
    for i in range(12):
        source.on_packet(_packet(i))
    # Packets 0-4 fill the queue; the 6th drops those 5, the 11th the 4 queued after the resync marker.
    assert (source.dropped, source.dropped_frames) == (2, 9)
    assert consumer_drops([source, object(), source]) == {"gops": 4, "frames": 18}
    assert consumer_drops([]) == {"gops": 0, "frames": 0}


async def test_drops_reach_the_camera_status_and_health(lite_api: ApiClient, sim: SimulatorHandle) -> None:
    camera_id = await add_camera(lite_api, sim.rtsp_url("cam1", "main"))
    ingest = lite_api.client.app[INGEST]
    await wait_for(lambda: uuid.UUID(camera_id) in ingest.runtimes)
    status = await lite_api.ok("GET", f"/api/v1/cameras/{camera_id}/status", Role.VIEWER)
    assert status["consumer_drops"] == {"gops": 0, "frames": 0}
    stalled = IngestSource(ingest.stream(uuid.UUID(camera_id), "main"), max_packets=5)
    stalled.worker.add(stalled)  # subscribed, never read: a consumer that fell behind for good
    try:
        async def dropped() -> Any:
            body = await lite_api.ok("GET", f"/api/v1/cameras/{camera_id}/status", Role.VIEWER)
            return body["consumer_drops"] if body["consumer_drops"]["gops"] >= 2 else None

        drops = await wait_for(dropped, limit=30)
        assert drops["frames"] >= 2 * 4
        health = await lite_api.ok("GET", "/health/detailed", Role.SUPERVISOR)
        line = next(c for c in health["components"] if c["name"] == "recording")
        assert "dropped by consumers that fell behind" in line["detail"]
    finally:
        stalled.close()
