"""Make-before-break between two recorders of one camera (two cluster nodes): the leaving one ends its segment
exactly at a keyframe; the arriving one, fed the same stream all along but not yet allowed to write, starts its
first segment at that keyframe from the GOPs it holds. Every frame is written once: none twice, none lost.
The cluster protocol around it (ready, leave, hand over) runs with real nodes in cluster/test_failover.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.server.recording.test_durability import FRAMES, GOP, encode_segment, packets_of
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket
from vms_server.recording.recorder import Policy, Recorder
from vms_server.recording.segments import SegmentResult


def pair(tmp_path: Path) -> tuple[Recorder, list[SegmentResult], Recorder, list[SegmentResult], list[bool]]:
    old_results: list[SegmentResult] = []
    new_results: list[SegmentResult] = []
    owner = [False]  # the arriving node's ownership, as its cluster service would say
    volumes = [tmp_path / "a", tmp_path / "b"]
    for volume in volumes:
        volume.mkdir()
    old = Recorder("cam", "main", lambda: volumes[0], 60.0, old_results.append, policy=Policy())
    new = Recorder("cam", "main", lambda: volumes[1], 60.0, new_results.append, policy=Policy(),
                   may_write=lambda: owner[0])
    return old, old_results, new, new_results, owner


def test_the_new_owner_starts_at_the_keyframe_where_the_old_one_stopped(tmp_path: Path) -> None:
    container, info, packets = packets_of_file(tmp_path)
    old, old_results, new, new_results, owner = pair(tmp_path)
    try:
        old.on_open(info)
        new.on_open(info)
        for index, packet in enumerate(packets):
            old.on_packet(packet)
            new.on_packet(packet)
            if index == GOP + 1:  # the arriving recorder holds a keyframe: the old one is asked to leave
                assert new.holds_keyframe and old.writer is not None
                old.leave()
            if old.left and not owner[0]:
                assert old.left_at_us is not None and old.left_at_us > 0
                new.start_from_us = old.left_at_us  # what the row carries to the next owner
                owner[0] = True
        old.on_close("end")
        new.on_close("end")
    finally:
        container.close()
    keyframe = packets[2 * GOP]  # the first keyframe after the request to leave
    assert old.left_at_us == keyframe.wall_us
    assert [r.frames for r in old_results] == [2 * GOP]
    assert new_results[0].start_us == keyframe.wall_us
    assert sum(r.frames for r in old_results + new_results) == FRAMES  # each frame once
    assert old_results[-1].end_us <= new_results[0].start_us


def test_a_keyframe_no_longer_held_falls_back_to_the_next_one(tmp_path: Path) -> None:
    container, info, packets = packets_of_file(tmp_path)
    _old, _old_results, new, new_results, owner = pair(tmp_path)
    try:
        new.on_open(info)
        for index, packet in enumerate(packets):
            if index == 2 * GOP + 2:
                new.start_from_us = packets[0].wall_us  # three GOPs back: only the last two are held
                owner[0] = True
            new.on_packet(packet)
        new.on_close("end")
    finally:
        container.close()
    assert new_results[0].start_us == packets[3 * GOP].wall_us and new.start_from_us is None


def packets_of_file(tmp_path: Path) -> tuple[Any, StreamInfo, list[MediaPacket]]:
    source = tmp_path / "source.mp4"
    encode_segment(source)
    return packets_of(source)
