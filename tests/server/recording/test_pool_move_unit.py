"""The main process's side of a move between ingest workers, packet by packet (`pool_move`): where live switches
to the new connection's packets and how their timestamps are carried onto the old timeline (which cameras a
rebalance moves: `test_pool_balance_unit.py`). The whole move through real workers and simulator cameras is
`test_pool_move.py`."""

from __future__ import annotations

import itertools
from fractions import Fraction

from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket
from vms_server.recording.pool_move import Handover, shifted, ts_offset

INFO = StreamInfo("h264", 320, 240, 10.0, Fraction(1, 90_000), b"\x01", None)
FRAME_US = 100_000


def _packets(first_us: int, count: int, gop: int = 10, dts0: int = 0) -> list[MediaPacket]:
    return [MediaPacket(b"x", dts0 + i * 9000, dts0 + i * 9000, first_us + i * FRAME_US, i % gop == 0, 1)
            for i in range(count)]


def test_live_switches_at_the_held_keyframe_where_the_source_stopped() -> None:
    move = Handover(worker=1, index=0, info=INFO)
    incoming = _packets(10_000_000, 25)
    out = [move.take(p) for p in incoming[:15]]
    assert not any(out)  # held until the source says where it stopped
    move.switch_us = incoming[10].wall_us
    got = move.take(incoming[15])
    assert move.done and got == incoming[10:16]  # from that keyframe, the held packets and this one


def test_a_switch_point_between_keyframes_waits_for_the_next_one() -> None:
    move = Handover(worker=1, index=0, info=INFO)
    incoming = _packets(10_000_000, 25)
    for pkt in incoming[:15]:
        move.take(pkt)
    move.switch_us = incoming[15].wall_us  # 0.5 s past the held keyframe: neither near nor later
    assert [move.take(p) for p in incoming[15:20]] == [[]] * 5 and not move.done
    assert move.take(incoming[20]) == [incoming[20]] and move.done


def test_nothing_is_held_before_the_new_connection_is_described() -> None:
    move = Handover(worker=1, index=0)
    move.switch_us = 10_000_000
    assert move.take(_packets(10_000_000, 1)[0]) == [] and not move.held


def test_timestamps_continue_the_old_session() -> None:
    old = _packets(10_000_000, 10, dts0=500_000)
    new = _packets(10_000_000 + 10 * FRAME_US, 5, dts0=7)  # the next frame, counted from another connect
    offset = ts_offset(INFO, old[-1], new[0])
    moved = [shifted(p, offset) for p in new]
    assert moved[0].dts == old[-1].dts + 9000 and moved[0].wall_us == new[0].wall_us
    assert all(b.dts - a.dts == 9000 for a, b in itertools.pairwise(moved))
    assert ts_offset(INFO, None, new[0]) == 0 and shifted(new[0], 0) is new[0]
