"""The `file` scene: a video file resampled to a stream's size and frame rate, streamed from the file.

Holding every decoded picture of the source at the stream's size costs a lot (vtest.avi's 79 s at 960 x 720:
about 1.6 GB), so the file is read twice instead: once for the pictures' times (the loop's length depends on
the last one read), once for the pictures themselves, keeping only the current and the next picture while the
output frames are produced. Decoding twice costs a few seconds against the loop's encoding; the output is the
same as resampling from all pictures in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from vms_camsim.barcode import Frame
from vms_camsim.config import StreamConfig
from vms_camsim.encoder import overlay_blocking
from vms_camsim.errors import EncodeError

log = logging.getLogger(__name__)


def _pictures(path: Path, stream: StreamConfig, max_seconds: int, *, images: bool) -> Iterator[tuple[float, Frame]]:
    """The file's timed pictures up to the first at or past `max_seconds` (RGB at the stream's size when
    `images`, else empty arrays: only the times). Raises EncodeError when PyAV cannot read the file."""
    empty: Frame = np.zeros((0, 0, 3), np.uint8)
    try:
        with av.open(str(path)) as container:
            for decoded in container.decode(container.streams.video[0]):
                if decoded.time is None:
                    continue
                yield float(decoded.time), _rgb(decoded, stream) if images else empty
                if decoded.time >= max_seconds:
                    return
    except (av.FFmpegError, IndexError, OSError) as exc:
        raise EncodeError(f"cannot read video file {path}: {exc}") from exc


def _rgb(decoded: av.VideoFrame, stream: StreamConfig) -> Frame:
    """One source picture at the stream's size."""
    return np.asarray(decoded.to_ndarray(width=stream.width, height=stream.height, format="rgb24"), dtype=np.uint8)


def _first_two(
    path: Path, stream: StreamConfig, max_seconds: int
) -> tuple[Iterator[tuple[float, Frame]], tuple[float, Frame], tuple[float, Frame] | None]:
    """The pictures from the start: the rest to come, the first and the second (None: a single picture)."""
    source = _pictures(path, stream, max_seconds, images=True)
    first = next(source, None)
    if first is None:
        raise EncodeError(f"video file {path} has no decodable video frames")
    return source, first, next(source, None)


def file_frames_blocking(path: Path, stream: StreamConfig, max_seconds: int) -> Iterator[Frame]:
    """Yield frames of a video file resampled to the stream's size and fps, up to whole seconds: each output
    frame shows the last source picture at or before its time, with the loop-position stamp.

    Raises EncodeError when PyAV cannot read the file or it has no video.
    """
    times = [t for t, _ in _pictures(path, stream, max_seconds, images=False)]
    if not times:
        raise EncodeError(f"video file {path} has no decodable video frames")
    t0 = times[0]
    span = max(times[-1] - t0, 1 / stream.fps)
    seconds = max(1, min(max_seconds, int(span)))
    source, current, upcoming = _first_two(path, stream, max_seconds)
    for i in range(seconds * stream.fps):
        t = t0 + (i / stream.fps) % span
        while upcoming is not None and upcoming[0] <= t:
            current, upcoming = upcoming, next(source, None)
        if current[0] > t:  # the loop wrapped (a clip under a second): from the first picture again
            source, current, upcoming = _first_two(path, stream, max_seconds)
        frame = np.array(current[1], copy=True)
        ms = i * 1000 // stream.fps
        overlay_blocking(frame, ms, seconds, f"{path.name} T+{ms / 1000:07.3f}s")
        yield frame
