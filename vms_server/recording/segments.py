"""Writing one segment: codec copy into fragmented MP4 under a temporary name, renamed when complete.

Each keyframe starts a new fragment and fragments are flushed as they close, so a crash loses at most the
fragment being written; recovery (recovery.py) rewrites what is left into a clean file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from vms_server.ingest.source import StreamInfo
from vms_server.ingest.worker import MediaPacket
from vms_server.recording.durability import Durability

PART_SUFFIX = ".part"
FMP4_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}


@dataclass(frozen=True)
class SegmentResult:
    """A finished segment, ready to be indexed."""

    camera_id: str
    stream: str
    volume: str
    path: str  # relative to the volume
    start_us: int
    end_us: int
    frames: int
    bytes: int
    codec: str
    width: int
    height: int
    reason: str

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.start_us / 1e6, dt.UTC)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.end_us / 1e6, dt.UTC)


def segment_relpath(camera_id: str, stream: str, start_us: int) -> str:
    """`<camera>/<YYYY-MM-DD>/<HH>/<start_us>-<stream>.mp4`: the start time is in the name so recovery can
    index a file that never got a row."""
    when = dt.datetime.fromtimestamp(start_us / 1e6, dt.UTC)
    return f"{camera_id}/{when:%Y-%m-%d}/{when:%H}/{start_us}-{stream}.mp4"


def parse_start_us(path: Path) -> int | None:
    stem = path.name.split(".", 1)[0]
    head = stem.split("-", 1)[0]
    return int(head) if head.isdigit() else None


class SegmentWriter:
    """Blocking: used on the ingest thread. Muxes MediaPackets of one connection into one file."""

    def __init__(self, volume: Path, camera_id: str, stream: str, info: StreamInfo, first: MediaPacket,
                 reason: str, durability: Durability | None = None) -> None:
        self.volume, self.camera_id, self.stream, self.info, self.reason = volume, camera_id, stream, info, reason
        self.relpath = segment_relpath(camera_id, stream, first.wall_us)
        self.final = volume / self.relpath
        self._durability = durability or Durability(0)
        made = [p for p in (self.final.parent, *self.final.parent.parents) if p.is_relative_to(volume)
                and p != volume and not p.exists()]
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self._durability.new_directories(made)
        self.temp = self.final.with_name(self.final.name + PART_SUFFIX)
        self._out: Any = av.open(str(self.temp), "w", format="mp4", options=FMP4_OPTIONS)
        self._synced = self._durability.created(self.temp)
        self._stream = self._out.add_stream_from_template(info.stream)
        self._base = first.dts
        self.start_us = first.wall_us
        self.last_us = first.wall_us
        self.frames = 0
        self._frame_us = int(1e6 / info.fps) if info.fps > 0 else 40_000

    def write(self, pkt: MediaPacket) -> None:
        packet = pkt.packet
        packet.stream = self._stream
        packet.time_base = self.info.time_base
        packet.dts = pkt.dts - self._base
        packet.pts = pkt.pts - self._base
        self._out.mux(packet)
        self.frames += 1
        self.last_us = pkt.wall_us

    @property
    def duration_s(self) -> float:
        return (self.last_us - self.start_us) / 1e6

    def close(self) -> SegmentResult | None:
        """Finish the file and rename it into place; None if nothing worth keeping was written."""
        with contextlib.suppress(av.error.FFmpegError, OSError):
            self._out.close()
        self._durability.finish(self._synced)
        if self.frames == 0:
            self.temp.unlink(missing_ok=True)
            return None
        os.replace(self.temp, self.final)
        self._durability.renamed(self.final)
        return SegmentResult(
            camera_id=self.camera_id, stream=self.stream, volume=str(self.volume), path=self.relpath,
            start_us=self.start_us, end_us=self.last_us + self._frame_us, frames=self.frames,
            bytes=self.final.stat().st_size, codec=self.info.codec, width=self.info.width,
            height=self.info.height, reason=self.reason)

    def close_damaged(self) -> SegmentResult | None:
        """Keep what a segment whose write failed (disk full, I/O error) has on disk: finish it as well as
        the disk allows, then index what can really be read back. None (and no file) when nothing can."""
        with contextlib.suppress(av.error.FFmpegError, OSError):
            self._out.close()
        with contextlib.suppress(OSError):
            cut_torn_fragment(self.temp)
        self._durability.finish(self._synced)
        probed = probe_blocking(self.temp) if self.temp.exists() else None
        if probed is None:
            with contextlib.suppress(OSError):
                self.temp.unlink(missing_ok=True)
            return None
        frames, seconds, codec, width, height = probed
        os.replace(self.temp, self.final)
        self._durability.renamed(self.final)
        return SegmentResult(
            camera_id=self.camera_id, stream=self.stream, volume=str(self.volume), path=self.relpath,
            start_us=self.start_us, end_us=self.start_us + int(seconds * 1e6), frames=frames,
            bytes=self.final.stat().st_size, codec=codec, width=width, height=height, reason=self.reason)


def whole_length(path: Path) -> int:
    """Bytes of a fragmented MP4 up to the end of its last complete fragment (moof + mdat): what a crash or a
    power cut left readable. A torn box, or one that claims to run past the end of the file, ends it."""
    size = path.stat().st_size
    good = offset = 0
    after_moof = False
    with path.open("rb") as f:
        while offset + 8 <= size:
            f.seek(offset)
            head = f.read(16)
            length, kind = struct.unpack(">I4s", head[:8])
            if length == 1 and len(head) == 16:
                length = struct.unpack(">Q", head[8:16])[0]
            if length < 8 or offset + length > size:
                break  # torn (or size-to-end) box: nothing from here is complete
            offset += length
            if kind in (b"ftyp", b"moov") or (kind == b"mdat" and after_moof):
                good = offset
            after_moof = kind == b"moof"
    return good


def cut_torn_fragment(path: Path) -> int:
    """Truncate a fragmented MP4 after its last complete fragment; returns the new size. Raises OSError (a
    read-only volume).

    Truncating needs no free space, which matters when the write failed because the disk is full: the
    file then ends on a whole fragment and every packet in it decodes."""
    good = whole_length(path)
    if good < path.stat().st_size:
        os.truncate(path, good)
    return good


class _Prefix(io.RawIOBase):
    """The first `limit` bytes of a file, for reading a torn segment that cannot be cut (read-only volume)."""

    def __init__(self, path: Path, limit: int) -> None:
        self._file = path.open("rb")
        self._limit = limit

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            return self._file.seek(self._limit + offset)
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer: Any) -> int:
        room = max(0, self._limit - self._file.tell())
        view = memoryview(buffer)[:room]
        return self._file.readinto(view)

    def close(self) -> None:
        self._file.close()
        super().close()


def probe_blocking(path: Path, limit: int | None = None) -> tuple[int, float, str, int, int] | None:
    """(frames, seconds, codec, width, height) of a segment file, reading every packet (only its first `limit`
    bytes when given: the whole fragments of a torn file); None if unreadable."""
    prefix = None
    try:
        prefix = _Prefix(path, limit) if limit is not None else None
        with av.open(prefix or str(path), "r") as container:
            stream = container.streams.video[0]
            tb = stream.time_base or Fraction(1, 90000)
            first = last = None
            frames = 0
            for packet in container.demux(stream):
                if packet.dts is None:
                    continue
                first = packet.dts if first is None else first
                last = packet.dts + (packet.duration or 0)
                frames += 1
            if frames == 0 or first is None or last is None:
                return None
            ctx = stream.codec_context
            codec = {"h264": "h264", "hevc": "hevc"}.get(ctx.name, ctx.name)
            return frames, float((last - first) * tb), codec, ctx.width or 0, ctx.height or 0
    except (av.error.FFmpegError, OSError, IndexError):
        return None
    finally:
        if prefix is not None:
            prefix.close()
