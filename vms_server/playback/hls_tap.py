"""A rolling HLS playlist written from a live stream (LL fragments of about a second), as a packet consumer.

The playback service owns the taps and stops them at shutdown; a tap stops itself after a minute unrequested.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av

from vms_server.ingest.source import StreamInfo, keyframe_template
from vms_server.ingest.worker import MediaPacket

if TYPE_CHECKING:  # the service's module pulls in the database layer; taps need only the type
    from vms_server.ingest.service import Stream

IDLE_S = 60.0
SEGMENT_S = 1.0


class HlsTap:
    """PacketConsumer writing a rolling HLS playlist into `directory`."""

    def __init__(self, stream: Stream, directory: Path) -> None:
        self.stream = stream
        self.directory = directory
        self.last_request = time.monotonic()
        self._out: Any = None
        self._stream: Any = None
        self._base = 0
        self._lock = threading.Lock()
        self.stopped = False
        directory.mkdir(parents=True, exist_ok=True)
        stream.add(self)

    @property
    def playlist(self) -> Path:
        return self.directory / "index.m3u8"

    def _open(self, info: StreamInfo, first: MediaPacket) -> None:
        self._out = av.open(str(self.playlist), "w", format="hls", options={
            "hls_time": str(SEGMENT_S), "hls_list_size": "6", "hls_segment_type": "fmp4",
            "hls_flags": "delete_segments+independent_segments+omit_endlist",
            "hls_fmp4_init_filename": "init.mp4",
            "hls_segment_filename": str(self.directory / "seg_%05d.m4s")})
        if info.stream is not None:
            self._stream = self._out.add_stream_from_template(info.stream)
        else:  # packets relayed from an ingest worker process arrive as bytes with the codec parameters
            template = keyframe_template(info.codec, info.extradata, bytes(first.packet))
            try:
                self._stream = self._out.add_stream_from_template(template.streams.video[0])
            finally:
                template.close()
        self._base = first.dts

    def _close(self) -> None:
        out, self._out = self._out, None
        if out is not None:
            with contextlib.suppress(av.error.FFmpegError, OSError):
                out.close()

    def on_open(self, info: StreamInfo) -> None:
        self.info = info

    def on_close(self, reason: str) -> None:
        with self._lock:
            self._close()

    def on_packet(self, pkt: MediaPacket) -> None:
        with self._lock:
            if self.stopped:
                return
            if time.monotonic() - self.last_request > IDLE_S:
                self.stop_locked()
                return
            info = self.stream.info
            if self._out is None:
                if not pkt.keyframe or info is None:
                    return
                self._open(info, pkt)
            packet = pkt.packet if isinstance(pkt.packet, av.Packet) else _relayed(pkt)
            packet.stream = self._stream
            packet.time_base = info.time_base if info is not None else packet.time_base
            packet.dts = pkt.dts - self._base
            packet.pts = pkt.pts - self._base
            try:
                self._out.mux(packet)
            except (av.error.FFmpegError, OSError):
                self._close()

    def stop(self) -> None:
        with self._lock:
            if not self.stopped:
                self.stop_locked()

    def stop_locked(self) -> None:
        self.stopped = True
        self._close()
        self.stream.remove(self)
        shutil.rmtree(self.directory, ignore_errors=True)


def _relayed(pkt: MediaPacket) -> Any:
    packet = av.Packet(pkt.packet)
    packet.is_keyframe = pkt.keyframe
    return packet
