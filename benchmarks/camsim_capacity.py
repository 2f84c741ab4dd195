"""Capacity of one camera-simulator process: CPU per stream and delivered fps/bitrate per stream.

Starts one ``vms-camsim`` child with max(N) cameras (1080p 25 fps 4 Mbit/s H.264 main + 640x360
15 fps 512 kbit/s sub), then for each N runs a separate client process that plays the main
streams of cam1..camN over RTSP/TCP (raw RTP: counting frames and bytes, no decoding, so the
client is not the bottleneck) and measures the simulator's CPU time over the same window.

    .venv/bin/python benchmarks/camsim_capacity.py                 # N = 16, 64, 128; 20 s each
    .venv/bin/python benchmarks/camsim_capacity.py -n 100 -d 30
    .venv/bin/python benchmarks/camsim_capacity.py --smoke         # < 30 s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from vms_camsim import CameraConfig, SimulatorConfig, StreamConfig, spawn_simulator

MAIN = StreamConfig(width=1920, height=1080, fps=25, bitrate_kbps=4000)
SUB = StreamConfig(width=640, height=360, fps=15, bitrate_kbps=512)


class _Counter(asyncio.Protocol):
    """Parses interleaved RTP just enough to count frames (marker bits) and payload bytes."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.frames = 0
        self.bytes = 0
        self.first_frame: float | None = None
        self.last_frame = 0.0
        self.handshake: asyncio.Queue[bytes] = asyncio.Queue()
        self.streaming = False

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.streaming:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self.handshake.put_nowait(bytes(self.buffer[: end + 4]))
            del self.buffer[: end + 4]
            return
        self._parse()

    def _parse(self) -> None:
        buf, pos, n = self.buffer, 0, len(self.buffer)
        while pos + 4 <= n:
            if buf[pos] != 0x24:  # an RTSP response (PLAY) between media packets: skip it
                end = buf.find(b"\r\n\r\n", pos)
                if end < 0:
                    break
                pos = end + 4
                continue
            length = (buf[pos + 2] << 8) | buf[pos + 3]
            if pos + 4 + length > n:
                break
            if buf[pos + 1] == 0:
                self.bytes += length - 12
                if buf[pos + 5] & 0x80:
                    now = time.monotonic()
                    self.frames += 1
                    self.first_frame = self.first_frame or now
                    self.last_frame = now
            pos += 4 + length
        del buf[:pos]


class _UdpCounter(asyncio.DatagramProtocol):
    """Counts RTP datagrams of one UDP session (the RTCP port is bound but not read)."""

    def __init__(self, counter: _Counter) -> None:
        self.counter = counter

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.counter.bytes += len(data) - 12
        if data[1] & 0x80:
            self.counter.frames += 1


async def _client(url: str, results: list[_Counter], udp: bool) -> None:
    host_port = url.split("/")[2]
    host, port = host_port.split(":")
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_connection(_Counter, host, int(port))

    async def ask(request: str) -> str:
        transport.write(request.encode())
        return (await proto.handshake.get()).decode()

    wanted = "RTP/AVP/TCP;unicast;interleaved=0-1"
    if udp:
        rtp, _ = await loop.create_datagram_endpoint(lambda: _UdpCounter(proto), local_addr=(host, 0))
        rtp_port = rtp.get_extra_info("sockname")[1]
        wanted = f"RTP/AVP;unicast;client_port={rtp_port}-{rtp_port + 1}"
    answer = await ask(f"SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: {wanted}\r\n\r\n")
    session = next(line.split(":", 1)[1].split(";")[0].strip() for line in answer.split("\r\n")
                   if line.lower().startswith("session:"))
    proto.streaming = True
    transport.write(f"PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {session}\r\n\r\n".encode())
    results.append(proto)


async def _run_clients(urls: list[str], duration: float, udp: bool) -> list[dict[str, float]]:
    counters: list[_Counter] = []
    await asyncio.gather(*(_client(u, counters, udp) for u in urls))
    await asyncio.sleep(1.5)  # let every session reach its first keyframe
    start = [(c.frames, c.bytes) for c in counters]
    t0 = time.monotonic()
    await asyncio.sleep(duration)
    elapsed = time.monotonic() - t0
    return [{"fps": (c.frames - f0) / elapsed, "mbps": (c.bytes - b0) * 8 / elapsed / 1e6}
            for c, (f0, b0) in zip(counters, start, strict=True)]


def client_main(urls_file: Path, duration: float, udp: bool) -> None:
    """Child mode: play every URL in the file, print per-stream fps and Mbit/s as JSON."""
    urls = json.loads(urls_file.read_text())
    print(json.dumps(asyncio.run(_run_clients(urls, duration, udp))))


def _measure(sim_pid: int, urls: list[str], duration: float, workdir: Path, udp: bool) -> dict[str, float]:
    urls_file = workdir / f"urls-{len(urls)}.json"
    urls_file.write_text(json.dumps(urls))
    sim = psutil.Process(sim_pid)
    cmd = [sys.executable, __file__, "--client", str(urls_file), "-d", str(duration)] + (["--udp"] if udp else [])
    client = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    time.sleep(1.6)  # the client's warm-up: measure the simulator over the same window
    cpu0, t0 = sim.cpu_times(), time.monotonic()
    time.sleep(duration)
    cpu1, t1 = sim.cpu_times(), time.monotonic()
    out, _ = client.communicate(timeout=60)
    streams = json.loads(out)
    cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / (t1 - t0)
    fps = [s["fps"] for s in streams]
    mbps = [s["mbps"] for s in streams]
    return {"n": len(urls), "cpu": cpu * 100, "cpu_per_stream": cpu * 100 / len(urls), "fps_min": min(fps),
            "fps_mean": sum(fps) / len(fps), "mbps_mean": sum(mbps) / len(mbps), "mbps_total": sum(mbps)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, action="append", help="stream counts to test (repeatable)")
    parser.add_argument("-d", "--duration", type=float, default=20.0, help="seconds measured per N")
    parser.add_argument("--loop-seconds", type=int, default=5, help="pre-encoded loop length")
    parser.add_argument("--smoke", action="store_true", help="N=8, 5 s, 2 s loop: finishes in < 30 s")
    parser.add_argument("--udp", action="store_true", help="RTP over UDP instead of RTSP-interleaved TCP")
    parser.add_argument("--client", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args.client, args.duration, args.udp)
        return
    counts = [8] if args.smoke else (args.n or [16, 64, 128])
    duration = 5.0 if args.smoke else args.duration
    loop_seconds = 2 if args.smoke else args.loop_seconds
    cameras = [CameraConfig(name=f"cam{i}", main=MAIN, sub=SUB, loop_seconds=loop_seconds, auth="none")
               for i in range(1, max(counts) + 1)]
    config = SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=cameras)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        started = time.monotonic()
        sim = spawn_simulator(config, workdir)
        print(f"simulator with {len(cameras)} cameras ready in {time.monotonic() - started:.1f} s "
              f"(1080p25 4 Mbit/s H.264 main + 360p15 sub, {loop_seconds} s loop); "
              f"clients: raw RTP over {'UDP' if args.udp else 'RTSP/TCP'} in another process")
        try:
            rows = [_measure(sim.process.pid, [sim.rtsp_url(f"cam{i}") for i in range(1, n + 1)], duration, workdir,
                             args.udp) for n in counts]
        finally:
            sim.stop()
    print(f"{'N':>5} {'sim CPU %core':>14} {'CPU/stream %':>13} {'fps min':>8} {'fps mean':>9} "
          f"{'Mbit/s/stream':>14} {'Mbit/s total':>13}")
    for r in rows:
        print(f"{r['n']:>5} {r['cpu']:>14.1f} {r['cpu_per_stream']:>13.2f} {r['fps_min']:>8.1f} "
              f"{r['fps_mean']:>9.1f} {r['mbps_mean']:>14.2f} {r['mbps_total']:>13.1f}")


if __name__ == "__main__":
    main()
