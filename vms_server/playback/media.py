"""Blocking media work on recorded segments: remux a time range across segments, grab a still.

Times are Unix microseconds. A segment's packet time = its indexed start + (dts - first dts); the output
of a remux is re-timed from the requested start, so gaps between segments stay gaps in the timeline.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

US = Fraction(1, 1_000_000)


class MediaError(Exception):
    """The footage cannot be read (missing or damaged files)."""


@dataclass(frozen=True)
class Piece:
    path: Path
    start_us: int
    end_us: int


# For codec copy nothing is decoded, so stream probing must not decode either (it would cost a keyframe
# decode per segment, more than copying the whole segment); the parameters come from the MP4 header.
_COPY_OPTIONS = {"analyzeduration": "0", "probesize": "32"}
_COPY_STREAM: Any = [{"skip_frame": "all"}]


def _open_input(path: Path, *, copy: bool = False) -> Any:
    if path.suffix == ".part" and not path.exists():
        path = path.with_suffix("")  # the open segment was finalised meanwhile
    try:
        if copy:
            return av.open(str(path), options=_COPY_OPTIONS, stream_options=_COPY_STREAM)
        return av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        # strerror only: the exception's text carries the server's absolute path, which callers may show
        raise MediaError(f"cannot read the recording: {exc.strerror or type(exc).__name__}") from None


def _seek(container: Any, stream: Any, offset_us: int) -> None:
    if offset_us <= 0:
        return
    target = int(offset_us * US / stream.time_base)
    try:
        container.seek(target, backward=True, any_frame=False, stream=stream)
    except av.error.FFmpegError:
        with contextlib.suppress(av.error.FFmpegError, OSError):  # nothing read yet: it is at the start already
            container.seek(0, stream=stream)


def _packets(source: Any, stream: Any, piece: Piece, start_us: int, end_us: int) -> Iterator[tuple[Any, int]]:
    """(packet, wall clock us) of one segment from the keyframe before `start_us` up to `end_us`."""
    first = _first_dts(piece.path)
    _seek(source, stream, start_us - piece.start_us)
    scale = float(stream.time_base / US)
    packets = source.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except (av.error.FFmpegError, OSError):
            return  # a segment still being written ends in a partial fragment: stop before it
        if packet.dts is None:
            continue
        wall = piece.start_us + int((packet.dts - first) * scale)
        if wall > end_us:
            return
        yield packet, wall


def remux_blocking(pieces: list[Piece], start_us: int, end_us: int, target: Any, *, options: dict[str, str],
                   speed: float = 1.0, progress: Callable[[float], bool] | None = None,
                   on_start: Callable[[int], None] | None = None) -> int:
    """Copy [start, end] of `pieces` into one MP4 written to `target` (path or file-like).

    Starts at the keyframe at or before `start` so the first picture decodes. `speed` > 1 compresses time
    (keyframes only above 4x). `progress(fraction)` returning False cancels. `on_start(us)` is told the wall
    time of that first keyframe, the output's time zero, before anything is written. Returns packets
    written; raises MediaError when nothing could be written.
    """
    out = av.open(target, "w", format="mp4", options=options)
    out_stream = None
    shape = None
    written = 0
    base_us: int | None = None
    span = max(end_us - start_us, 1)
    try:
        for piece in pieces:
            with _open_input(piece.path, copy=True) as source:
                stream = source.streams.video[0]
                ctx = stream.codec_context
                if out_stream is None:
                    out_stream = out.add_stream_from_template(stream)
                    shape = (ctx.name, ctx.width, ctx.height)
                elif shape != (ctx.name, ctx.width, ctx.height):
                    continue  # the camera changed its encoding: one file cannot hold both
                scale = float(stream.time_base / US)
                for packet, wall in _packets(source, stream, piece, start_us, end_us):
                    if base_us is None and not packet.is_keyframe:
                        continue
                    if base_us is None:
                        base_us = wall
                        if on_start is not None:
                            on_start(wall)
                    if speed > 4 and not packet.is_keyframe:
                        continue
                    delta = int((packet.pts - packet.dts) * scale) if packet.pts is not None else 0
                    packet.stream = out_stream
                    packet.time_base = US
                    packet.dts = int((wall - base_us) / speed)
                    packet.pts = packet.dts + delta
                    out.mux(packet)
                    written += 1
                    if progress is not None and written % 50 == 0 and not progress((wall - start_us) / span):
                        raise MediaError("cancelled")
        if written == 0:
            raise MediaError("no recorded video in this range")
    finally:
        _abandon(out)
    return written


def _abandon(out: Any) -> None:
    with contextlib.suppress(av.error.FFmpegError, OSError, ValueError):
        out.close()


_FIRST_DTS: dict[str, int] = {}


def _first_dts(path: Path) -> int:
    """A segment's first dts (its zero point), cached: segments never change at their start once written.

    Read through a container of its own, so the caller's is never moved: seeking that one back to 0 after reading
    could fail (FFmpeg's generic seek answers -1, "Operation not permitted", on a fragmented file without index
    entries yet), which failed a whole export. A piece that cannot be read yet (a partial first fragment) counts
    from 0 and is not cached; the caller's own read of it stops at the damage."""
    key = str(path).removesuffix(".part")
    if key not in _FIRST_DTS:
        value: int | None = None
        try:
            with _open_input(path, copy=True) as probe:
                stream = probe.streams.video[0]
                for packet in probe.demux(stream):
                    if packet.dts is not None:
                        value = int(packet.dts)
                        break
        except (MediaError, av.error.FFmpegError, OSError, IndexError):
            value = None
        if value is None:
            return 0
        if len(_FIRST_DTS) > 10000:
            _FIRST_DTS.clear()
        _FIRST_DTS[key] = value
    return _FIRST_DTS[key]


def jpeg_of(frame: Any, quality: int = 85) -> bytes:
    image = frame.to_ndarray(format="bgr24")
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise MediaError("cannot encode JPEG")
    return bytes(np.asarray(data).tobytes())


def snapshot_blocking(piece: Piece, at_us: int) -> bytes:
    """The picture shown at `at_us` (the last frame at or before it) as JPEG."""
    with _open_input(piece.path) as source:
        stream = source.streams.video[0]
        stream.thread_type = "AUTO"
        first = _first_dts(piece.path)
        _seek(source, stream, at_us - piece.start_us)
        chosen = None
        for frame in source.decode(stream):
            if frame.dts is None and frame.pts is None:
                continue
            ts = frame.pts if frame.pts is not None else frame.dts
            wall = piece.start_us + int((ts - first) * stream.time_base / US)
            if chosen is not None and wall > at_us:
                break
            chosen = frame
        if chosen is None:
            raise MediaError("no picture at this time")
        return jpeg_of(chosen)


def decode_last_blocking(codec: str, extradata: bytes | None, packets: list[bytes]) -> bytes:
    """Decode a GOP (keyframe first) and return its last picture as JPEG (live snapshot)."""
    ctx: Any = av.CodecContext.create(codec, "r")
    if extradata:
        ctx.extradata = extradata
    last = None
    for data in [*packets, None]:
        try:
            frames = ctx.decode(av.Packet(data) if data is not None else None)
        except av.error.FFmpegError:
            continue
        if frames:
            last = frames[-1]
    if last is None:
        raise MediaError("no picture decoded")
    return jpeg_of(last)
