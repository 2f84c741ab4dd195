"""`VideoJob`: one segment of one camera for a set of models, as the requirements describe it.

The segment travels encoded (MJPEG: one JPEG per normalised frame, timestamps in the metadata) when a job
crosses a process boundary (Redis). In-process, the decoded frames ride along and the bytes are produced only
when someone asks for them, so a single node does not pay an encode and a decode per frame.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from vms_server.analytics.types import Frame, Priority

_HEADER = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class SourceQuality:
    """What the camera actually delivers (compared with model requirements)."""

    width: int
    height: int
    bitrate_kbps: float
    fps: float
    codec: str

    @property
    def resolution(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(slots=True)
class JobMetadata:
    resolution: str
    bitrate_kbps: float
    duration_s: float
    frame_count: int
    enabled_models: list[str]
    priority: Priority
    source_quality: SourceQuality
    frame_times: list[float] = field(default_factory=list)
    low_latency: bool = False


@dataclass(slots=True)
class VideoJob:
    """A unit of analytics work. `timestamp` is the wall-clock time of the first frame."""

    job_id: uuid.UUID
    customer_id: uuid.UUID
    camera_id: uuid.UUID
    segment_sequence: int
    timestamp: dt.datetime
    metadata: JobMetadata
    frames: list[Frame] | None = None
    _segment: bytes | None = None
    enqueued_at: float = 0.0
    cut_at: float = 0.0  # wall time the segmenter cut it (in-process only; 0 after a process boundary)

    @property
    def video_segment(self) -> bytes:
        """The encoded segment (MJPEG frames), encoded on first use."""
        if self._segment is None:
            self._segment = encode_segment(self.frames or [])
        return self._segment

    def decoded_frames(self) -> list[Frame]:
        """The frames, decoding the segment when the job came from another process. Blocking."""
        if self.frames is None:
            self.frames = decode_segment(self._segment or b"", self.metadata.frame_times)
        return self.frames

    def for_models(self, models: list[str], priority: Priority) -> VideoJob:
        """A copy addressed to other models (frames shared, not copied)."""
        meta = JobMetadata(**{**_meta_fields(self.metadata), "enabled_models": list(models), "priority": priority})
        return VideoJob(uuid.uuid4(), self.customer_id, self.camera_id, self.segment_sequence, self.timestamp,
                        meta, self.frames, self._segment)

    def to_bytes(self) -> bytes:
        """Serialise for a queue that crosses processes: a JSON header, then the segment."""
        head = json.dumps({
            "job_id": str(self.job_id), "customer_id": str(self.customer_id), "camera_id": str(self.camera_id),
            "segment_sequence": self.segment_sequence, "timestamp": self.timestamp.isoformat(),
            "metadata": {**_meta_fields(self.metadata), "priority": self.metadata.priority.value,
                         "source_quality": _quality_dict(self.metadata.source_quality)},
        }).encode()
        return _HEADER.pack(len(head)) + head + self.video_segment

    @classmethod
    def from_bytes(cls, raw: bytes) -> VideoJob:
        """Inverse of :meth:`to_bytes`. Raises ValueError on a malformed message."""
        try:
            (size,) = _HEADER.unpack_from(raw)
            head: dict[str, Any] = json.loads(raw[4:4 + size])
            meta = dict(head["metadata"])
            meta["priority"] = Priority(meta["priority"])
            meta["source_quality"] = SourceQuality(**meta["source_quality"])
            return cls(uuid.UUID(head["job_id"]), uuid.UUID(head["customer_id"]), uuid.UUID(head["camera_id"]),
                       int(head["segment_sequence"]), dt.datetime.fromisoformat(head["timestamp"]),
                       JobMetadata(**meta), None, raw[4 + size:])
        except (struct.error, KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"malformed job message: {exc}") from exc


def _meta_fields(meta: JobMetadata) -> dict[str, Any]:
    return {name: getattr(meta, name) for name in JobMetadata.__slots__}


def _quality_dict(q: SourceQuality) -> dict[str, Any]:
    return {"width": q.width, "height": q.height, "bitrate_kbps": q.bitrate_kbps, "fps": q.fps, "codec": q.codec}


def encode_segment(frames: list[Frame], quality: int = 80) -> bytes:
    """Concatenated JPEGs, each prefixed by its length. Blocking (OpenCV)."""
    out = bytearray()
    for frame in frames:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ValueError("JPEG encoding failed")
        out += _HEADER.pack(len(buf)) + buf.tobytes()
    return bytes(out)


def decode_segment(data: bytes, times: list[float]) -> list[Frame]:
    """Inverse of :func:`encode_segment`. Blocking. Raises ValueError on a corrupt segment."""
    frames: list[Frame] = []
    pos = 0
    while pos < len(data):
        (size,) = _HEADER.unpack_from(data, pos)
        pos += 4
        bgr = cv2.imdecode(np.frombuffer(data[pos:pos + size], np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError("corrupt JPEG in segment")
        pos += size
        ts = times[len(frames)] if len(frames) < len(times) else 0.0
        frames.append(Frame(len(frames), ts, np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))))
    return frames
