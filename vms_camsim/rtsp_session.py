"""One RTSP media session: its own SSRC, sequence numbers and timestamps over a shared feed.

``on_frame`` runs for every session on every frame, so it does as little as possible: copy the
pre-packetised template, patch headers, one write (TCP) or one sendto per packet (UDP). Per-camera
faults are applied here because they are per-client behaviour on a shared picture.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import time
from dataclasses import dataclass

from vms_camsim.camera import CameraRuntime
from vms_camsim.feeds import Feed
from vms_camsim.rtp import HEADER_SIZE, PacketTemplate, sender_report, stamp_packets
from vms_camsim.rtsp_proto import TransportSpec

log = logging.getLogger(__name__)

CLOCK_RATE = 90_000
SR_INTERVAL_S = 5.0
MAX_WRITE_BUFFER = 4 * 1024 * 1024


@dataclass
class UdpSockets:
    """The server's shared RTP and RTCP sockets (clients see one server_port pair)."""

    rtp: socket.socket
    rtcp: socket.socket

    @property
    def ports(self) -> tuple[int, int]:
        """(RTP port, RTCP port)."""
        return self.rtp.getsockname()[1], self.rtcp.getsockname()[1]


class Session:
    """A SETUP-created session streaming one camera stream to one client."""

    def __init__(self, camera: CameraRuntime, stream_name: str, feed: Feed, spec: TransportSpec,
                 transport: asyncio.WriteTransport, client_host: str, udp: UdpSockets | None) -> None:
        self.id = secrets.token_hex(8)
        self.camera, self.stream_name, self.feed, self.spec = camera, stream_name, feed, spec
        self.transport, self.udp = transport, udp
        self.rtp_addr = (client_host, spec.client_rtp_port)
        self.rtcp_addr = (client_host, spec.client_rtcp_port)
        self.ssrc = secrets.randbits(32)
        self.seq = secrets.randbits(16)
        self.ts_base = secrets.randbits(32)
        self.playing = False
        self.need_key = True
        self.play_started = 0.0
        self.opened = time.time()
        self.last_sr = 0.0
        self.udp_sent = 0  # RTP packets sent (or lost by the fault) over UDP
        self.packets = self.octets = self.frames = 0

    def rtp_time(self, unix_time: float) -> int:
        """RTP timestamp of a wall-clock instant for this session."""
        return (self.ts_base + round(unix_time * CLOCK_RATE)) & 0xFFFFFFFF

    def play(self) -> None:
        """Start (or resume) delivery; the first frame sent is a keyframe."""
        if not self.playing:
            self.playing, self.need_key = True, True
            self.play_started = time.time()
            self.last_sr = 0.0
            self.feed.subscribe(self)

    def pause(self) -> None:
        """Stop delivery, keep the session."""
        if self.playing:
            self.playing = False
            self.feed.unsubscribe(self)

    def on_frame(self, template: PacketTemplate, capture_time: float) -> None:
        """Send one access unit to the client (see module docstring)."""
        now = time.time()
        if self.transport.is_closing():
            self.pause()
            return
        if self.camera.feeds.get(self.stream_name) is not self.feed:  # re-encoded (SetVideoEncoderConfiguration)
            log.info("%s/%s has new encoder settings: ending the session", self.camera.name, self.stream_name)
            self.pause()
            self.transport.close()
            return
        if not self._fault_allows(template, now):
            return
        if self.need_key:
            if not template.keyframe:
                return
            self.need_key = False
        if self.spec.tcp and self.transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            self.need_key = True  # slow reader: drop until it drains, then restart at a keyframe
            return
        buf = stamp_packets(template, self.spec.channel, self.seq, self.rtp_time(capture_time), self.ssrc)
        count = len(template.layout)
        self.seq = (self.seq + count) & 0xFFFF
        self.frames += 1
        corrupt = self.camera.config.faults.corrupt_every_n_frames
        if corrupt and self.frames % corrupt == 0:
            _garble(buf, template)
        if now - self.last_sr >= SR_INTERVAL_S:
            self._send_report(now)
        if self.spec.tcp:
            self.transport.write(buf)
        else:
            self._send_udp(buf, template)
        self.packets += count
        self.octets += len(buf) - count * HEADER_SIZE

    def _fault_allows(self, template: PacketTemplate, now: float) -> bool:
        if self.camera.network_down:  # SimulatorHandle.set_network(..., up=False): the link is gone
            self.transport.abort()
            return False
        faults = self.camera.config.faults
        if faults.drop_every_s is not None and now - self.opened >= faults.drop_every_s:
            log.info("fault: dropping connection of %s", self.camera.name)
            self.transport.abort()
            return False
        if self.camera.stalled(now):
            return False
        no_key = faults.no_keyframes_after_s
        return not (template.keyframe and no_key is not None and now - self.play_started >= no_key)

    def _send_udp(self, buf: bytearray, template: PacketTemplate) -> None:
        assert self.udp is not None
        view = memoryview(buf)
        sock = self.udp.rtp
        lose_every = self.camera.config.faults.udp_lose_every_n
        for offset, length, _ in template.layout:
            self.udp_sent += 1
            if lose_every is not None and self.udp_sent % lose_every == 0:
                continue  # the fault: lost on the way, after its sequence number was written
            try:
                sock.sendto(view[offset + 4 : offset + 4 + length], self.rtp_addr)
            except OSError:  # full socket buffer or unreachable client: UDP drops, like a camera
                break

    def _send_report(self, now: float) -> None:
        self.last_sr = now
        report = sender_report(self.ssrc, now, self.rtp_time(now), packets=self.packets,
                               octets=self.octets, cname=f"{self.camera.name}@vms-camsim")
        if self.spec.tcp:
            self.transport.write(bytes((0x24, self.spec.channel + 1)) + len(report).to_bytes(2, "big") + report)
        elif self.udp is not None:
            try:
                self.udp.rtcp.sendto(report, self.rtcp_addr)
            except OSError:
                log.debug("RTCP send to %s failed", self.rtcp_addr)

    def close(self) -> None:
        """Stop delivery for good."""
        self.pause()


def _garble(buf: bytearray, template: PacketTemplate) -> None:
    """Overwrite the middle of the frame's last payload (the NAL header survives, the data not)."""
    offset, length, _ = template.layout[-1]
    payload = length - 12
    if payload < 16:
        return
    start = offset + HEADER_SIZE + payload // 2
    size = min(64, payload // 2 - 1)
    buf[start : start + size] = secrets.token_bytes(size)
