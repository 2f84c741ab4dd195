"""The importable API: start a simulated fleet in-process or as a subprocess.

    async with SimulatorHandle.start(config) as sim:
        url = sim.rtsp_url("cam1", "main")

Ports 0 in the config mean "any free port"; the handle reports the ones actually bound.
Start-up unwinds whatever it already started if a later step fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from vms_camsim.camera import CameraRuntime, FeedCache, build_camera
from vms_camsim.config import SimulatorConfig
from vms_camsim.errors import SimulatorError
from vms_camsim.rtsp_server import RtspServer

log = logging.getLogger(__name__)


class SimulatorHandle:
    """A running simulator: cameras, RTSP server, ONVIF servers and the discovery responder."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.cameras: dict[str, CameraRuntime] = {}
        self.rtsp: RtspServer | None = None
        self._stack = AsyncExitStack()
        self._cache = FeedCache()

    @classmethod
    @asynccontextmanager
    async def start(cls, config: SimulatorConfig) -> AsyncIterator[SimulatorHandle]:
        """Start everything; stop it all on exit. Raises SimulatorError or OSError on failure."""
        handle = cls(config)
        await handle.open()
        try:
            yield handle
        finally:
            await handle.close()

    async def open(self) -> None:
        """Start the fleet (use :meth:`start` unless you manage the lifetime yourself)."""
        try:
            await self._open()
        except BaseException:
            await self.close()
            raise

    async def _open(self) -> None:
        cfg = self.config
        self._stack.push_async_callback(self._cache.close)
        built = await asyncio.gather(*(build_camera(cam, self._cache) for cam in cfg.cameras))
        for runtime in built:
            self.cameras[runtime.name] = runtime
            self._stack.push_async_callback(runtime.close)
        if cfg.ground_truth_dir is not None:
            await asyncio.to_thread(self._write_ground_truth, cfg.ground_truth_dir)
        self.rtsp = RtspServer(self.cameras, cfg.host, cfg.rtsp_port, cfg.public_host)
        await self.rtsp.start()
        self._stack.push_async_callback(self.rtsp.close)
        if cfg.onvif_port is not None:
            from vms_camsim.onvif.server import OnvifServers

            onvif = OnvifServers(self)
            await onvif.start()
            self._stack.push_async_callback(onvif.close)
        if cfg.discovery:
            from vms_camsim.discovery import DiscoveryResponder

            responder = DiscoveryResponder(self)
            await responder.start()
            self._stack.push_async_callback(responder.close)
        log.info("simulator up: %d cameras, RTSP port %d", len(self.cameras), self.rtsp.port)

    def _write_ground_truth(self, directory: Path) -> None:
        for runtime in self.cameras.values():
            cam = runtime.config
            path = directory / f"{cam.name}.json"
            runtime.scene.write_timeline(path, max(1, round(cam.loop_seconds)), cam.main.fps)

    async def close(self) -> None:
        """Stop everything that was started (idempotent)."""
        await self._stack.aclose()

    def camera(self, name: str) -> CameraRuntime:
        """The runtime of a camera. Raises SimulatorError for an unknown name."""
        try:
            return self.cameras[name]
        except KeyError:
            raise SimulatorError(f"no camera named {name!r}") from None

    def rtsp_url(self, camera: str, stream: str = "main", *, with_credentials: bool = False) -> str:
        """``rtsp://host:port/<camera>/<stream>``, optionally with user:password@ in it."""
        cam = self.camera(camera).config
        assert self.rtsp is not None
        url = self.rtsp.url(camera, stream)
        if with_credentials:
            url = url.replace("rtsp://", f"rtsp://{cam.username}:{cam.password}@", 1)
        return url

    def set_network(self, camera: str, up: bool) -> None:
        """Cut a camera off the network (``up=False``) or bring it back: while it is down its RTSP connections
        are dropped, new ones are dropped at their first request and its ONVIF requests go unanswered, but it
        keeps recording to its card (edge storage), which a VMS replays once it sees the camera again."""
        runtime = self.camera(camera)
        runtime.network_down = not up
        log.info("%s: network %s", camera, "up" if up else "down")

    def onvif_port(self, camera: str) -> int:
        """The HTTP port of a camera's ONVIF services."""
        return self.camera(camera).onvif_port

    def onvif_url(self, camera: str) -> str:
        """The camera's ONVIF device service address."""
        return f"http://{self.config.public_host}:{self.onvif_port(camera)}/onvif/device_service"

    def describe(self) -> dict[str, object]:
        """A JSON-able summary of where every camera can be reached."""
        return {"rtsp_port": self.rtsp.port if self.rtsp else None, "cameras": {
            name: {"main": self.rtsp_url(name, "main"),
                   **({"sub": self.rtsp_url(name, "sub")} if "sub" in cam.feeds else {}),
                   "onvif": self.onvif_url(name) if cam.onvif_port else None,
                   "username": cam.config.username, "password": cam.config.password}
            for name, cam in self.cameras.items()}}


@dataclass
class SimulatorProcess:
    """A simulator running as a child process (for tests of other subsystems)."""

    process: subprocess.Popen[bytes]
    info: dict[str, object]
    network_control: Path | None = None

    def set_network(self, camera: str, up: bool) -> None:
        """Cut a camera off the network or bring it back (the child applies it within half a second)."""
        from vms_camsim.network_control import read_down, write_down

        if self.network_control is None:
            raise SimulatorError("this simulator was started without a network control file")
        down = read_down(self.network_control)
        write_down(self.network_control, down - {camera} if up else down | {camera})

    def rtsp_url(self, camera: str, stream: str = "main") -> str:
        """URL from the child's start-up report."""
        cams = self.info["cameras"]
        assert isinstance(cams, dict)
        return str(cams[camera][stream])

    def onvif_url(self, camera: str) -> str | None:
        """ONVIF device service URL from the child's start-up report (None without ONVIF)."""
        cams = self.info["cameras"]
        assert isinstance(cams, dict)
        url = cams[camera]["onvif"]
        return None if url is None else str(url)

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the child and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def spawn_simulator(config: SimulatorConfig, workdir: Path, timeout: float = 120.0) -> SimulatorProcess:
    """Run ``vms-camsim`` in a child process with ``config`` and wait until it serves.

    Blocking (call via asyncio.to_thread from async code). Raises SimulatorError if the child
    exits or does not report readiness within ``timeout`` seconds.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    fleet = workdir / "fleet.json"
    ready = workdir / "ready.json"
    fleet.write_text(config.model_dump_json(), encoding="utf-8")
    ready.unlink(missing_ok=True)
    control = workdir / "network-down.txt"
    control.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "vms_camsim", "--fleet", str(fleet), "--ready-file", str(ready),
           "--network-control", str(control)]
    log_file = (workdir / "camsim.log").open("wb")
    # The command is our own interpreter and module with paths we created: no untrusted input.
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=dict(os.environ))  # noqa: S603
    log_file.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready.exists():
            with contextlib.suppress(json.JSONDecodeError):
                return SimulatorProcess(proc, json.loads(ready.read_text(encoding="utf-8")), control)
        if proc.poll() is not None:
            raise SimulatorError(f"simulator exited with {proc.returncode}; see {workdir / 'camsim.log'}")
        time.sleep(0.1)
    proc.kill()
    raise SimulatorError("simulator did not become ready in time")
