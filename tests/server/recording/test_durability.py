"""Durability: recovery of a segment torn at any byte of its last fragment, the sync thread, read-only volumes.

The torn files are made in a temporary directory from one small encoded segment (no server, no camera), so every
byte boundary of the last fragment is tried in a few seconds.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from tests.server.recording.conftest import reconcile_rows, recording_settings, tmpfs
from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket
from vms_server.recording.config import VolumeConfig
from vms_server.recording.durability import Durability
from vms_server.recording.recorder import Policy, Recorder
from vms_server.recording.recovery import recover_part_blocking
from vms_server.recording.segments import FMP4_OPTIONS, SegmentResult, probe_blocking, whole_length
from vms_server.recording.storage import NoVolume, VolumeSet

FPS, GOP, FRAMES = 10, 5, 20


def encode_segment(path: Path) -> bytes:
    """A fragmented MP4 as the recorder writes it (a fragment per keyframe), returned without the index FFmpeg
    appends at a clean close (a crash never leaves one)."""
    with av.open(str(path), "w", format="mp4", options=FMP4_OPTIONS) as out:
        stream = out.add_stream("libx264", rate=FPS, options={
            "g": str(GOP), "keyint_min": str(GOP), "sc_threshold": "0", "bf": "0", "crf": "35"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(FRAMES):
            picture = np.zeros((48, 64, 3), dtype=np.uint8)
            picture[10:30, 2 * i:2 * i + 16] = (255, 128, 0)  # a moving square: small frames that still differ
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()[:whole_length(path)]


def fragment_starts(data: bytes) -> list[int]:
    """Offsets of the moof boxes."""
    starts, offset = [], 0
    while offset < len(data):
        length = int.from_bytes(data[offset:offset + 4], "big")
        if data[offset + 4:offset + 8] == b"moof":
            starts.append(offset)
        offset += length
    return starts


def decoded(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


@pytest.fixture(scope="module")
def segment(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return encode_segment(tmp_path_factory.mktemp("src") / "source.mp4")


def test_a_segment_torn_at_every_byte_of_its_last_fragment_keeps_every_whole_fragment(
        segment: bytes, tmp_path: Path) -> None:
    starts = fragment_starts(segment)
    assert len(starts) == FRAMES // GOP
    last = starts[-1]
    folder = tmp_path / str(uuid.uuid4())
    folder.mkdir()
    kept: dict[int, int] = {}
    for cut in range(last, len(segment) + 1):
        part = folder / "1700000000000000-main.mp4.part"
        part.write_bytes(segment[:cut])
        final = recover_part_blocking(part)
        assert final == folder / "1700000000000000-main.mp4" and not part.exists()
        whole = cut == len(segment)
        assert final.stat().st_size == (len(segment) if whole else last)
        probed = probe_blocking(final)
        assert probed is not None
        kept[probed[0]] = kept.get(probed[0], 0) + 1
        if cut in (last, last + 1, len(segment) - 1, len(segment)):
            assert decoded(final) == probed[0]  # every kept packet decodes
        final.unlink()
    # Every cut inside the last fragment loses exactly that fragment (one GOP), never more.
    assert kept == {FRAMES - GOP: len(segment) - last, FRAMES: 1}


def test_a_segment_without_one_whole_fragment_is_removed(segment: bytes, tmp_path: Path) -> None:
    first = fragment_starts(segment)[0]
    for cut in (0, 7, first, first + 100):
        part = tmp_path / "1700000000000000-main.mp4.part"
        part.write_bytes(segment[:cut])
        assert recover_part_blocking(part) is None
        assert not part.exists() and not (tmp_path / "1700000000000000-main.mp4").exists()


def test_the_sync_thread_syncs_open_segments_and_new_directories(tmp_path: Path) -> None:
    durability = Durability(0.05)
    durability.start()
    try:
        target = tmp_path / "cam" / "day" / "seg.mp4.part"
        target.parent.mkdir(parents=True)
        durability.new_directories([tmp_path / "cam", tmp_path / "cam" / "day"])
        handle = durability.created(target)
        assert handle is not None
        target.write_bytes(b"x" * 1000)
        deadline = time.monotonic() + 20
        while durability.stats.file_syncs < 2 or durability.stats.dir_syncs < 2:
            assert time.monotonic() < deadline, durability.stats
            time.sleep(0.02)
        durability.finish(handle)
        assert handle.fd is None
        target.rename(target.with_name("seg.mp4"))
        durability.renamed(target.with_name("seg.mp4"))
    finally:
        durability.stop()
    assert durability.stats.errors == 0 and durability.stats.rounds >= 2


def test_off_means_no_thread_and_no_handles(tmp_path: Path) -> None:
    durability = Durability(0)
    durability.start()
    assert durability.created(tmp_path / "a.mp4.part") is None
    durability.stop()
    assert durability.stats.rounds == 1 and durability.stats.file_syncs == 0


def packets_of(path: Path) -> tuple[Any, StreamInfo, list[MediaPacket]]:
    container = av.open(str(path))
    source = container.streams.video[0]
    info = StreamInfo(codec="h264", width=64, height=48, fps=float(FPS), time_base=source.time_base or
                      Fraction(1, 90000), extradata=source.codec_context.extradata, stream=source)
    wall = 1_700_000_000_000_000
    packets = [MediaPacket(packet=p, pts=int(p.pts), dts=int(p.dts), wall_us=wall + i * 100_000,
                           keyframe=bool(p.is_keyframe), size=p.size)
               for i, p in enumerate(p for p in container.demux(source) if p.dts is not None and p.size)]
    return container, info, packets


def test_the_recorder_syncs_each_segment_before_naming_it(segment: bytes, tmp_path: Path) -> None:
    source = tmp_path / "source.mp4"
    source.write_bytes(segment)
    container, info, packets = packets_of(source)
    volume = tmp_path / "vol"
    volume.mkdir()
    results: list[SegmentResult] = []
    durability = Durability(30.0)  # no round during the test: only the syncs at each segment's end count
    recorder = Recorder("cam", "main", lambda: volume, 1.0, results.append, policy=Policy(), durability=durability)
    try:
        recorder.on_open(info)
        for packet in packets:
            recorder.on_packet(packet)
        recorder.on_close("end")
    finally:
        container.close()
    assert len(results) == 2 and sum(r.frames for r in results) == FRAMES
    assert durability.stats.file_syncs == 2
    durability.sync_now()  # the directories made for the segments and the renames
    assert durability.stats.dir_syncs >= 3 and durability.stats.errors == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real file system, so it can be made read-only under the test."""
    with tmpfs(tmp_path / "disk", "4m") as mount_point:
        yield mount_point


async def test_a_torn_segment_on_a_read_only_volume_is_indexed_where_it_lies(
        segment: bytes, small_disk: Path, tmp_path: Path, sqlite_url: str) -> None:
    camera_id = uuid.uuid4()
    folder = small_disk / str(camera_id) / "2023-11-14" / "22"
    folder.mkdir(parents=True)
    last = fragment_starts(segment)[-1]
    (folder / "1700000000000000-main.mp4.part").write_bytes(segment[:last + 40])
    volumes = VolumeSet([VolumeConfig(path=small_disk, min_free_bytes=0)])  # in use before it turned read-only
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    report, rows = await reconcile_rows(recording_settings(tmp_path, sqlite_url).database_url, volumes)
    assert report.recovered == 1 and len(rows) == 1
    row = rows[0]
    assert row.path.endswith(".mp4.part") and row.camera_id == camera_id and row.state == "recovered"
    assert row.frames == FRAMES - GOP  # read up to its last whole fragment, the torn tail left out
    assert (small_disk / row.path).stat().st_size == last + 40  # untouched
    with pytest.raises(NoVolume, match="read-only"):  # and no new segment goes there
        volumes.pick()
    assert volumes.volumes[0].failing() and "read-only" in str(volumes.volumes[0].failure)


def test_frames_lost_upstream_and_in_writing_are_counted(segment: bytes, tmp_path: Path) -> None:
    """A hole in the stream's timestamps and a connection that stays down count as frames lost upstream; frames
    recording wanted while no volume could take them count as lost in writing."""
    source = tmp_path / "source.mp4"
    source.write_bytes(segment)
    container, info, packets = packets_of(source)
    volume = tmp_path / "vol"
    volume.mkdir()
    usable = [True]

    def pick() -> Path:
        if not usable[0]:
            raise NoVolume("no recording volume is usable: test")
        return volume

    results: list[SegmentResult] = []
    recorder = Recorder("cam", "main", pick, 60.0, results.append, policy=Policy())
    try:
        recorder.on_open(info)
        for packet in packets[:10]:
            recorder.on_packet(packet)
        # A hole of 2 s in the timestamps (camera side: 19 frames of 100 ms never sent).
        for packet in packets[10:]:
            recorder.on_packet(MediaPacket(packet.packet, packet.pts, packet.dts, packet.wall_us + 1_900_000,
                                           packet.keyframe, packet.size))
        recorder.on_close("end")
    finally:
        container.close()
    counts = recorder.loss.snapshot(packets[-1].wall_us + 1_900_000)
    assert counts["received"] == FRAMES and counts["written"] == FRAMES == sum(r.frames for r in results)
    assert counts["lost_upstream"] == 19 and counts["lost_writing"] == 0
    # Still down 3 s after the last frame: those 30 frames are lost so far.
    assert recorder.loss.snapshot(packets[-1].wall_us + 1_900_000 + 3_000_000)["lost_upstream"] == 19 + 29

    container, info, packets = packets_of(source)
    usable[0] = False
    recorder = Recorder("cam", "main", pick, 60.0, results.append, policy=Policy())
    try:
        recorder.on_open(info)
        for packet in packets:
            recorder.on_packet(packet)
    finally:
        container.close()
    counts = recorder.loss.snapshot(packets[-1].wall_us)
    assert counts["lost_writing"] == FRAMES and counts["written"] == 0 and counts["lost_upstream"] == 0
    assert recorder.error is not None and "not recording" in recorder.error
