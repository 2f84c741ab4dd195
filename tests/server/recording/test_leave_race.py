"""`Recorder.leave` from another thread while the ingest thread cuts a segment (the cluster hand-over calls it from
the event loop). At a cut the recorder has no writer for a moment; a `leave` that looked then took the recorder
for idle and said it was done (`left_at_us = -1`), the fence closed, and the segment opened at that keyframe was
cut after one frame. Each test fences like the cluster service: once the recorder says it left, it may not write.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.server.recording.test_durability import FRAMES, GOP
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket
from vms_server.recording.recorder import Policy, Recorder
from vms_server.recording.segments import SegmentResult

SEGMENT_S = GOP / 10  # one GOP at the fixture's 10 fps: every keyframe cuts a segment
WAIT_S = 10.0  # a thread handing over on an idle machine takes microseconds; generous for a loaded CI runner


def fenced(
    volume: Path,
    results: list[SegmentResult],
    pick: Callable[[], Path] | None = None,
    sink: Callable[[SegmentResult], None] | None = None,
) -> Recorder:
    """A recorder fenced as the cluster service fences it: the camera is passed on once the recorder has left."""
    box: list[Recorder] = []
    recorder = Recorder(
        "cam",
        "main",
        pick or (lambda: volume),
        SEGMENT_S,
        sink or results.append,
        policy=Policy(),
        may_write=lambda: not box[0].left,
    )
    box.append(recorder)
    return recorder


def leave_from_another_thread(recorder: Recorder) -> None:
    """Call `leave` on a thread of its own and wait for it: the ingest thread is held where it is meanwhile."""
    caller = threading.Thread(target=recorder.leave)
    caller.start()
    caller.join(WAIT_S)
    assert not caller.is_alive()


@pytest.mark.parametrize("window", ["sink", "pick_volume"])
@pytest.mark.parametrize("cut", [1, 2])
def test_a_leave_landing_between_two_segments_ends_at_the_next_keyframe(
    stream: tuple[StreamInfo, list[MediaPacket]], tmp_path: Path, window: str, cut: int
) -> None:
    """`leave` runs exactly in the gap of a cut: after the old segment closed (its sink) or while the new one
    picks its volume, with no writer. The segment opened at that keyframe must run to the next one."""
    info, packets = stream
    volume = tmp_path / "vol"
    volume.mkdir()
    results: list[SegmentResult] = []
    holder: list[Recorder] = []
    calls = {"sink": 0, "pick_volume": 0}

    def hook(name: str) -> None:
        calls[name] += 1
        # pick_volume is also called for the first segment; the sink only at cuts
        if name == window and calls[name] == cut + (name == "pick_volume"):
            assert holder[0].writer is None  # the gap: the old segment is closed, the new one not open yet
            leave_from_another_thread(holder[0])

    def sink(result: SegmentResult) -> None:
        results.append(result)
        hook("sink")

    def pick() -> Path:
        hook("pick_volume")
        return volume

    recorder = fenced(volume, results, pick=pick, sink=sink)
    holder.append(recorder)
    recorder.on_open(info)
    for packet in packets:
        recorder.on_packet(packet)
    recorder.on_close("end")
    assert recorder.leaving
    assert [r.frames for r in results] == [GOP] * (cut + 1)  # no segment of one frame
    assert recorder.left_at_us == packets[(cut + 1) * GOP].wall_us  # the keyframe the next owner starts at
    assert results[-1].end_us <= recorder.left_at_us


def test_leave_raced_against_cuts_never_leaves_a_one_frame_segment(
    stream: tuple[StreamInfo, list[MediaPacket]], tmp_path: Path
) -> None:
    """The same without holding either thread: a caller thread calls `leave` at a random packet near a cut while
    the ingest thread goes on, many times, with the interpreter switching threads as often as it can."""
    info, packets = stream
    rng = random.Random(4)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for iteration in range(150):
            volume = tmp_path / f"vol{iteration}"
            volume.mkdir()
            results: list[SegmentResult] = []
            recorder = fenced(volume, results)
            at = rng.choice([GOP - 1, GOP, 2 * GOP - 1, 2 * GOP])  # a packet before or at a cut
            go = threading.Event()

            def call(r: Recorder = recorder, signal: threading.Event = go) -> None:
                assert signal.wait(WAIT_S)
                r.leave()

            caller = threading.Thread(target=call)
            caller.start()
            recorder.on_open(info)
            for index, packet in enumerate(packets):
                if index == at:
                    go.set()
                if index == 3 * GOP:  # asked before the last keyframe, however late the caller ran
                    caller.join(WAIT_S)
                    assert not caller.is_alive()
                recorder.on_packet(packet)
            recorder.on_close("end")
            frames = [r.frames for r in results]
            assert 1 not in frames, (iteration, at, frames)
            assert sum(frames) < FRAMES and recorder.left_at_us is not None  # it did leave, at a keyframe
            assert recorder.left_at_us in {p.wall_us for p in packets if p.keyframe}
    finally:
        sys.setswitchinterval(interval)


def test_asked_while_idle_the_next_packet_answers(stream: tuple[StreamInfo, list[MediaPacket]], tmp_path: Path) -> None:
    """Connected but writing nothing (event mode, no event): done at the next packet, with nothing to continue."""
    info, packets = stream
    recorder = Recorder(
        "cam", "main", lambda: tmp_path, SEGMENT_S, lambda _r: None, policy=Policy(continuous=False, event=True)
    )
    recorder.on_open(info)
    recorder.on_packet(packets[0])
    recorder.leave()
    assert not recorder.left  # only the ingest thread knows no segment is opening
    recorder.on_packet(packets[1])
    assert recorder.left_at_us == -1


def test_unconnected_or_disconnected_it_is_done_at_once(
    stream: tuple[StreamInfo, list[MediaPacket]], tmp_path: Path
) -> None:
    info, packets = stream
    idle = Recorder("cam", "main", lambda: tmp_path, SEGMENT_S, lambda _r: None)
    idle.leave()
    assert idle.left_at_us == -1  # no packet is coming to answer
    results: list[SegmentResult] = []
    recorder = Recorder("cam", "main", lambda: tmp_path, 60.0, results.append)
    recorder.on_open(info)
    for packet in packets[:3]:
        recorder.on_packet(packet)
    recorder.leave()
    assert not recorder.left  # writing: it ends at the next keyframe...
    recorder.on_close("camera gone")  # ...which does not come
    assert recorder.left_at_us == -1 and [r.frames for r in results] == [3]
