"""The assignment rules as a pure function: spread by capacity, pins, site affinity, failover and balancing."""

from __future__ import annotations

import uuid
from collections import Counter

from vms_server.cluster.plan import CameraView, NodeView, plan

SITE_A, SITE_B = uuid.UUID(int=1), uuid.UUID(int=2)


def cams(n: int, site: uuid.UUID = SITE_A, **kwargs: object) -> list[CameraView]:
    return [CameraView(uuid.uuid4(), site, **kwargs) for _ in range(n)]  # type: ignore[arg-type]


def test_new_cameras_spread_by_capacity() -> None:
    nodes = [NodeView("a", 10), NodeView("b", 10), NodeView("c", 20)]
    result = plan(nodes, cams(12), max_moves=0)
    assert Counter(result.assign.values()) == {"a": 3, "b": 3, "c": 6}


def test_cameras_of_a_dead_node_go_to_the_survivors_and_a_pin_wins_while_its_node_lives() -> None:
    pinned = CameraView(uuid.uuid4(), SITE_A, node_id="dead", pinned_node="b")
    orphans = cams(4, node_id="dead")
    kept = cams(2, node_id="a")
    result = plan([NodeView("a", 10), NodeView("b", 10)], [pinned, *orphans, *kept], max_moves=0)
    assert result.assign[pinned.camera_id] == "b"
    assert {result.assign[c.camera_id] for c in orphans} == {"a", "b"}
    assert not any(c.camera_id in result.assign for c in kept), "a live owner keeps its cameras"
    load = Counter(result.assign.values()) + Counter({"a": len(kept)})
    assert sorted(load.values()) == [3, 4], "7 cameras on two equal nodes: 4 and 3"


def test_a_pinned_camera_fails_over_when_its_node_dies_and_is_handed_back() -> None:
    camera = CameraView(uuid.uuid4(), SITE_A, node_id="b", pinned_node="a")
    assert plan([NodeView("b", 10)], [camera], max_moves=0).hand_over == {}, "pinned node dead: stays on b"
    back = plan([NodeView("a", 10), NodeView("b", 10)], [camera], max_moves=0)
    assert back.hand_over == {camera.camera_id: "a"} and not back.assign


def test_site_cameras_stay_on_their_dedicated_nodes() -> None:
    nodes = [NodeView("a1", 10, frozenset({SITE_A})), NodeView("any", 10)]
    site_a, site_b = cams(4, SITE_A), cams(3, SITE_B)
    result = plan(nodes, [*site_a, *site_b], max_moves=0)
    assert {result.assign[c.camera_id] for c in site_a} == {"a1"}
    assert {result.assign[c.camera_id] for c in site_b} == {"any"}, "a dedicated node takes no other site"
    alone = plan([NodeView("a1", 10, frozenset({SITE_A}))], site_b, max_moves=0)
    assert not alone.assign, "no eligible node: the cameras wait unassigned"


def test_a_joining_node_gets_cameras_by_hand_over_within_the_move_budget() -> None:
    busy = cams(9, node_id="a")
    result = plan([NodeView("a", 10), NodeView("b", 10), NodeView("c", 10)], busy, max_moves=4)
    assert not result.assign and len(result.hand_over) == 4
    assert Counter(result.hand_over.values()) == {"b": 2, "c": 2}
    moving = [CameraView(c.camera_id, SITE_A, "a", result.hand_over.get(c.camera_id)) for c in busy]
    again = plan([NodeView("a", 10), NodeView("b", 10), NodeView("c", 10)], moving, max_moves=4)
    assert len(again.hand_over) == 2, "the next round finishes the job (3 / 3 / 3)"
    assert plan([NodeView("a", 10), NodeView("b", 10)], cams(3, node_id="a"), max_moves=0).hand_over == {}


def test_a_hand_over_to_a_node_that_died_is_cancelled() -> None:
    camera = CameraView(uuid.uuid4(), SITE_A, node_id="a", moving_to="gone")
    result = plan([NodeView("a", 10)], [camera], max_moves=0)
    assert result.cancel == [camera.camera_id] and not result.assign


def test_a_node_without_room_takes_no_camera() -> None:
    """A node with recording off registers with max_cameras 0: it serves the API and records nothing."""
    orphan = CameraView(uuid.uuid4(), SITE_A, node_id="api-only")
    result = plan([NodeView("api-only", 0), NodeView("rec", 10)], [orphan, *cams(2)], max_moves=4)
    assert set(result.assign.values()) == {"rec"} and orphan.camera_id in result.assign
