"""The availability watch turns ingest's stream states into online/offline changes, once per change."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from vms_server.ingest.health import StreamState
from vms_server.notifications.availability import AvailabilityWatch


@dataclass
class _Health:
    state: StreamState


@dataclass
class _Worker:
    health: _Health


@dataclass
class _Spec:
    customer_id: uuid.UUID


@dataclass
class _Runtime:
    spec: _Spec
    workers: dict[str, _Worker] = field(default_factory=dict)


async def test_changes_are_published_once_and_a_removed_camera_goes_offline() -> None:
    customer, camera = uuid.uuid4(), uuid.uuid4()
    main = _Worker(_Health(StreamState.CONNECTING))
    runtimes = {camera: _Runtime(_Spec(customer), {"main": main, "sub": _Worker(_Health(StreamState.ONLINE))})}
    published: list[tuple[uuid.UUID, uuid.UUID, bool]] = []

    async def publish(cust: uuid.UUID, cam: uuid.UUID, up: bool) -> int:
        published.append((cust, cam, up))
        return 1

    watch = AvailabilityWatch(lambda: runtimes, publish)
    assert await watch.check() == 0  # still connecting: nothing to say yet (the sub stream does not count)
    main.health.state = StreamState.ONLINE
    assert await watch.check() == 1 and await watch.check() == 0
    main.health.state = StreamState.UNAUTHORISED
    await watch.check()
    main.health.state = StreamState.ONLINE
    await watch.check()
    runtimes.clear()  # disabled or deleted: its workers are gone
    await watch.check()
    assert [up for _, _, up in published] == [True, False, True, False]
    assert {(c, cam) for c, cam, _ in published} == {(customer, camera)}
