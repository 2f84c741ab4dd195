"""``vms-camsim``: serve a fleet of simulated cameras from one process.

Flags describe a uniform fleet; ``--fleet`` reads a YAML/TOML file for a mixed one (flags given
explicitly then override its listen settings). Errors are one readable line and a non-zero exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from vms_camsim.config import (
    AuthMode,
    Codec,
    SceneKind,
    SimulatorConfig,
    build_config,
    expand_fleet,
    load_fleet_file,
)
from vms_camsim.errors import SimulatorError

log = logging.getLogger(__name__)

EPILOG = """\
examples:
  vms-camsim --cameras 64 --scene people --rtsp-port 8554 --onvif-port 8000
      64 cameras: rtsp://127.0.0.1:8554/cam1/main .. /cam64/sub, ONVIF of camN on port 8000+N-1
  vms-camsim --cameras 2 --ptz-cameras 1 --main-size 640x360
      cam1 is a PTZ camera (live-encoded, the view pans/tilts/zooms), cam2 a fixed one
  vms-camsim --fleet fleet.yaml --discovery
      mixed fleet from a file (keys of SimulatorConfig; 'defaults' and per-camera 'count')

streams are H.264/H.265/MJPEG over RTSP (TCP interleaved or UDP); credentials admin/admin unless set.
scenes: people, car, fire, tamper, mixed, file (--video-file); --ground-truth DIR writes their timelines.
"""


def _size(value: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {value!r}") from None
    return width, height


def _stream_args(parser: argparse.ArgumentParser, name: str, size: str, fps: int, kbps: int) -> None:
    group = parser.add_argument_group(f"{name} stream")
    group.add_argument(f"--{name}-codec", choices=[c.value for c in Codec], default="h264")
    group.add_argument(f"--{name}-size", type=_size, default=_size(size), metavar="WxH", help=f"default {size}")
    group.add_argument(f"--{name}-fps", type=int, default=fps, help=f"default {fps}")
    group.add_argument(f"--{name}-bitrate", type=int, default=kbps, metavar="KBPS", help=f"default {kbps}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    p = argparse.ArgumentParser(prog="vms-camsim", description="Simulated RTSP/ONVIF cameras for testing "
                                "and demos.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cameras", type=int, default=1, help="number of cameras cam1..camN (default 1)")
    p.add_argument("--scene", choices=[s.value for s in SceneKind], default="people",
                   help="synthetic scene (default people); 'file' needs --video-file")
    p.add_argument("--video-file", type=Path, help="video played in a loop (implies --scene file)")
    p.add_argument("--loop-seconds", type=float, default=10.0, help="length of the pre-encoded loop")
    p.add_argument("--no-sub", action="store_true", help="cameras have only a main stream")
    p.add_argument("--ptz-cameras", type=int, default=0, help="the first N cameras are PTZ cameras")
    p.add_argument("--fleet", type=Path, help="YAML/TOML (or JSON) fleet file; replaces the camera flags")
    net = p.add_argument_group("network")
    net.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    net.add_argument("--rtsp-port", type=int, default=None, help="RTSP port (default 8554, 0 = free port)")
    net.add_argument("--onvif-port", type=int, default=None, help="first ONVIF port (default 8000)")
    net.add_argument("--no-onvif", action="store_true", help="do not serve ONVIF")
    net.add_argument("--advertise-host", default=None, help="host name written into URLs")
    net.add_argument("--discovery", action="store_true", help="answer WS-Discovery probes on UDP 3702")
    net.add_argument("--discovery-interface", metavar="IPV4", help="join the discovery group on this interface")
    auth = p.add_argument_group("credentials")
    auth.add_argument("--username", default="admin", help="RTSP and ONVIF user (default admin)")
    auth.add_argument("--password", default="admin", help="RTSP and ONVIF password (default admin)")
    auth.add_argument("--auth", choices=[a.value for a in AuthMode], default="any", help="RTSP auth schemes")
    auth.add_argument("--no-onvif-auth", action="store_true", help="accept ONVIF calls without UsernameToken")
    _stream_args(p, "main", "1920x1080", 25, 4000)
    _stream_args(p, "sub", "640x360", 15, 768)
    faults = p.add_argument_group("faults (applied to --fault-cameras, default all)")
    faults.add_argument("--fault-cameras", help="comma-separated camera names that misbehave")
    faults.add_argument("--drop-every", type=float, metavar="S", help="close RTSP connections after S seconds")
    faults.add_argument("--stall-every", type=float, metavar="S", help="stop sending media every S seconds")
    faults.add_argument("--stall-for", type=float, default=5.0, metavar="S", help="stall length (default 5)")
    faults.add_argument("--no-keyframes-after", type=float, metavar="S", help="stop sending keyframes")
    faults.add_argument("--corrupt-every", type=int, metavar="N", help="garble a NAL every N frames")
    faults.add_argument("--refuse-auth", action="store_true", help="reject even correct credentials")
    faults.add_argument("--network-control", type=Path, metavar="FILE", help="cameras named in FILE (one a "
                        "line, read twice a second) are off the network but keep recording to their card")
    out = p.add_argument_group("output")
    out.add_argument("--ground-truth", type=Path, metavar="DIR", help="write scene timelines (JSON) here")
    out.add_argument("--ready-file", type=Path, help="write the URLs as JSON here once serving")
    out.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def _stream(args: argparse.Namespace, name: str) -> dict[str, Any]:
    width, height = getattr(args, f"{name}_size")
    return {"codec": getattr(args, f"{name}_codec"), "width": width, "height": height,
            "fps": getattr(args, f"{name}_fps"), "bitrate_kbps": getattr(args, f"{name}_bitrate")}


def _fault_dict(args: argparse.Namespace) -> dict[str, Any]:
    faults = {"drop_every_s": args.drop_every, "stall_every_s": args.stall_every,
              "stall_for_s": args.stall_for, "no_keyframes_after_s": args.no_keyframes_after,
              "corrupt_every_n_frames": args.corrupt_every, "refuse_auth": args.refuse_auth}
    return {k: v for k, v in faults.items() if v is not None}


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """Turn parsed flags (and an optional fleet file) into a validated config (raises ConfigError)."""
    if args.fleet is not None:
        data = expand_fleet(load_fleet_file(args.fleet))
    else:
        if not 1 <= args.cameras <= 1000:
            raise SimulatorError("--cameras must be between 1 and 1000")
        scene = "file" if args.video_file else args.scene
        chosen = set(args.fault_cameras.split(",")) if args.fault_cameras else None
        cameras = []
        for i in range(1, args.cameras + 1):
            name = f"cam{i}"
            cam: dict[str, Any] = {
                "name": name, "scene": scene, "video_file": args.video_file, "loop_seconds": args.loop_seconds,
                "username": args.username, "password": args.password, "auth": args.auth,
                "onvif_auth": not args.no_onvif_auth, "main": _stream(args, "main"),
                "sub": None if args.no_sub else _stream(args, "sub"), "ptz": i <= args.ptz_cameras}
            if chosen is None or name in chosen:
                cam["faults"] = _fault_dict(args)
            cameras.append(cam)
        data = {"cameras": cameras, "discovery": args.discovery,
                "discovery_interface": args.discovery_interface, "ground_truth_dir": args.ground_truth}
    overrides = {"host": args.host, "rtsp_port": args.rtsp_port, "onvif_port": args.onvif_port,
                 "advertise_host": args.advertise_host, "discovery_interface": args.discovery_interface,
                 "ground_truth_dir": args.ground_truth}
    data.update({k: v for k, v in overrides.items() if v is not None})
    if args.no_onvif:
        data["onvif_port"] = None
    if args.fleet is not None and args.discovery:
        data["discovery"] = True
    return build_config(data)


async def serve(config: SimulatorConfig, ready_file: Path | None, network_control: Path | None = None) -> None:
    """Run until SIGINT/SIGTERM."""
    from vms_camsim.handle import SimulatorHandle
    from vms_camsim.network_control import follow

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with SimulatorHandle.start(config) as sim:
        summary = sim.describe()
        if ready_file is not None:
            tmp = ready_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(summary), encoding="utf-8")
            tmp.replace(ready_file)
        for name, info in summary["cameras"].items():  # type: ignore[attr-defined]
            log.info("%s: %s %s onvif=%s", name, info["main"], info.get("sub", ""), info["onvif"])
        control = asyncio.create_task(follow(sim, network_control)) if network_control is not None else None
        await stop.wait()
        if control is not None:
            control.cancel()


def main(argv: list[str] | None = None) -> int:
    """Console entry point: returns the process exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = config_from_args(args)
        asyncio.run(serve(config, args.ready_file, args.network_control))
    except SimulatorError as exc:
        print(f"vms-camsim: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"vms-camsim: cannot start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
