"""The `file` scene streams its source: the frames are those of resampling from every picture held in memory
(each output frame shows the last source picture at or before its time), while only two pictures are held."""

from __future__ import annotations

import weakref
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vms_camsim import file_scene
from vms_camsim.config import StreamConfig
from vms_camsim.encoder import overlay_blocking
from vms_camsim.errors import EncodeError
from vms_camsim.file_scene import file_frames_blocking

SOURCE_FPS = 7  # not the stream's rate: pictures are repeated and dropped by time
STREAM = StreamConfig(width=320, height=240, fps=10, bitrate_kbps=500, gop_seconds=1.0)


def _write(path: Path, pictures: int) -> None:
    """A clip whose every picture is a different grey with a bar in a different place."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=SOURCE_FPS)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        stream.time_base = Fraction(1, SOURCE_FPS)
        for i in range(pictures):
            picture = np.full((96, 160, 3), 20 + (i * 7) % 200, np.uint8)
            picture[:, (i * 5) % 150 : (i * 5) % 150 + 10] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _expected(path: Path, max_seconds: int) -> list[np.ndarray]:
    """The frames resampled from all the file's pictures decoded up front (what the scene did before)."""
    with av.open(str(path)) as container:
        pictures = [
            (float(d.time), d.to_ndarray(width=STREAM.width, height=STREAM.height, format="rgb24"))
            for d in container.decode(video=0)
            if d.time is not None
        ]
    pictures = [p for i, p in enumerate(pictures) if i == 0 or pictures[i - 1][0] < max_seconds]
    t0, span = pictures[0][0], pictures[-1][0] - pictures[0][0]
    seconds = max(1, min(max_seconds, int(span)))
    out = []
    for i in range(seconds * STREAM.fps):
        t = t0 + (i / STREAM.fps) % span
        frame = np.array([p for p in pictures if p[0] <= t][-1][1], copy=True)
        ms = i * 1000 // STREAM.fps
        overlay_blocking(frame, ms, seconds, f"{path.name} T+{ms / 1000:07.3f}s")
        out.append(frame)
    return out


@pytest.mark.parametrize(("pictures", "max_seconds"), [(40, 10), (40, 3)])
def test_file_frames_are_resampled_by_time(tmp_path: Path, pictures: int, max_seconds: int) -> None:
    clip = tmp_path / "clip.mp4"
    _write(clip, pictures)
    got = list(file_frames_blocking(clip, STREAM, max_seconds))
    want = _expected(clip, max_seconds)
    assert len(got) == len(want) == min(max_seconds, (pictures - 1) // SOURCE_FPS) * STREAM.fps
    assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))


def test_file_frames_hold_two_pictures_not_the_clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every source picture decoded is watched: while the frames are produced, at most the current and the next
    are alive (a whole clip at 960 x 720 held in memory was 1.6 GB for vtest.avi)."""
    clip = tmp_path / "clip.mp4"
    _write(clip, 60)
    alive: list[weakref.ref[np.ndarray]] = []
    decode = file_scene._rgb

    def watched(decoded: av.VideoFrame, stream: StreamConfig) -> np.ndarray:
        picture = decode(decoded, stream)
        alive.append(weakref.ref(picture))
        return picture

    monkeypatch.setattr(file_scene, "_rgb", watched)
    counts = [sum(1 for ref in alive if ref() is not None) for _frame in file_frames_blocking(clip, STREAM, 10)]
    assert len(counts) == 8 * STREAM.fps and len(alive) >= 56  # the source's 8 s were all decoded
    assert max(counts) <= 2, counts


def test_a_file_without_video_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    with pytest.raises(EncodeError):
        list(file_frames_blocking(junk, STREAM, 5))
