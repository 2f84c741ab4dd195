"""Opening an RTSP stream with PyAV and turning library errors into states an operator understands.

Everything here blocks; it runs on the stream's own worker thread.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import av
import av.error

from vms_server.ingest.health import StreamState

SUPPORTED_CODECS = {"h264": "h264", "hevc": "hevc", "mjpeg": "mjpeg"}


class SourceError(Exception):
    """The stream cannot be used; `state` says which kind of failure, the message says why."""

    def __init__(self, state: StreamState, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.state = state
        self.retry = retry


@dataclass(frozen=True)
class StreamInfo:
    """What consumers need to set up a muxer or decoder for this connection."""

    codec: str
    width: int
    height: int
    fps: float
    time_base: Fraction
    extradata: bytes | None
    stream: Any  # the PyAV input stream: a template for muxers while the connection is open


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """Put credentials into an RTSP URL for FFmpeg. The result must never be logged."""
    if not username:
        return url
    parts = urlsplit(url)
    auth = quote(username, safe="") + (":" + quote(password, safe="") if password else "")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{auth}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redact(url: str) -> str:
    """The URL without any user:password, safe for logs and API answers."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def classify(exc: BaseException) -> SourceError:
    """Map a PyAV/OS error to a stream state and a message without credentials in it."""
    if isinstance(exc, SourceError):
        return exc
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return SourceError(StreamState.UNAUTHORISED, "the camera refused the credentials (401/403)")
    if isinstance(exc, av.error.HTTPNotFoundError):
        return SourceError(StreamState.OFFLINE, "the camera has no stream at this path (404)")
    if isinstance(exc, av.error.ConnectionRefusedError | ConnectionRefusedError):
        return SourceError(StreamState.OFFLINE, "connection refused: nothing listens at this address")
    if isinstance(exc, av.error.ExitError | av.error.TimeoutError | TimeoutError):
        return SourceError(StreamState.OFFLINE, "timed out waiting for the camera")
    if isinstance(exc, av.error.EOFError | EOFError):
        return SourceError(StreamState.OFFLINE, "the camera closed the stream")
    if isinstance(exc, av.error.InvalidDataError):
        return SourceError(StreamState.OFFLINE, "the camera sent data that cannot be parsed")
    text = str(exc).split(":", 1)[-1].strip() if isinstance(exc, av.error.FFmpegError) else type(exc).__name__
    return SourceError(StreamState.OFFLINE, f"stream error: {redact(text)}")


def open_blocking(url: str, transport: str, open_timeout: float, read_timeout: float) -> tuple[Any, StreamInfo]:
    """Connect and describe; raises SourceError. The caller closes the returned container."""
    # The read timeout is FFmpeg's own socket timeout (microseconds), not PyAV's: PyAV enforces its timeouts
    # in an interrupt callback that takes the GIL every time FFmpeg polls it, many times per RTP packet,
    # which serialised 64 camera threads on the GIL. PyAV's timeout still bounds the opening handshake.
    options = {"rtsp_transport": transport, "rtsp_flags": "prefer_tcp" if transport == "tcp" else "",
               "analyzeduration": "1000000", "probesize": "500000", "fflags": "nobuffer",
               "max_delay": "500000", "reorder_queue_size": "64" if transport == "udp" else "0",
               "timeout": str(int(read_timeout * 1_000_000))}
    options = {k: v for k, v in options.items() if v}
    try:
        container = av.open(url, options=options, timeout=(open_timeout, None))
    except Exception as exc:
        raise classify(exc) from None
    try:
        if not container.streams.video:
            raise SourceError(StreamState.UNSUPPORTED, "the stream has no video", retry=False)
        stream = container.streams.video[0]
        ctx = stream.codec_context
        codec = SUPPORTED_CODECS.get(ctx.name)
        if codec is None:
            raise SourceError(StreamState.UNSUPPORTED, f"codec {ctx.name} is not supported "
                              "(H.264, H.265 and MJPEG are)", retry=False)
        rate = stream.average_rate or stream.guessed_rate or 0
        info = StreamInfo(codec=codec, width=ctx.width or 0, height=ctx.height or 0, fps=float(rate),
                          time_base=stream.time_base or Fraction(1, 90000),
                          extradata=bytes(ctx.extradata) if ctx.extradata else None, stream=stream)
        return container, info
    except BaseException:
        container.close()
        raise


def producer_time_us(packet: Any) -> int | None:
    """Wall clock (Unix microseconds) FFmpeg derived from the camera's RTCP sender reports, if any."""
    try:
        if not packet.has_sidedata("prft"):
            return None
        raw = bytes(packet.get_sidedata("prft"))
    except (ValueError, TypeError, KeyError):
        return None
    if len(raw) < 8:
        return None
    value: int = struct.unpack_from("<q", raw)[0]
    return value if value > 0 else None


def keyframe_template(codec: str, extradata: bytes | None, keyframe: bytes) -> Any:
    """An in-memory demux of one keyframe (Annex B, after its parameter sets): its video stream serves muxers as a
    template where no FFmpeg input stream exists (the native reader, packets relayed from an ingest worker), with
    the picture size and cropping read by FFmpeg itself. A stream described by hand (`add_stream`) makes PyAV
    open an encoder when the muxer starts: a libx264 instance, about 5 MB, for every segment or playlist.
    The caller closes the returned container."""
    return av.open(io.BytesIO((extradata or b"") + keyframe), format=codec, options={"probesize": "32"})
