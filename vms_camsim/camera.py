"""Runtime state of one simulated camera, and the shared cache of encoded loops.

Cameras that show the same source with the same stream settings share one encoded loop and one
pacing feed (see feeds.py). PTZ cameras cannot share anything: their picture follows their own
head, so they get live feeds (rendered and encoded per frame, at the configured resolution).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vms_camsim.barcode import Frame
from vms_camsim.config import CameraConfig, SceneKind, StreamConfig
from vms_camsim.edge_card import EdgeCard
from vms_camsim.encoder import (
    encode_loop_blocking,
    make_encoder,
    overlay_blocking,
    scene_frames_blocking,
)
from vms_camsim.errors import EncodeError
from vms_camsim.feeds import Feed, LiveFeed, LoopFeed
from vms_camsim.file_scene import file_frames_blocking
from vms_camsim.ptz import PtzState
from vms_camsim.rtsp_proto import Authenticator
from vms_camsim.scenes import Scene, make_scene

log = logging.getLogger(__name__)

LoopKey = tuple[SceneKind, str, int, StreamConfig]


class FeedCache:
    """Encodes each distinct (source, loop length, stream settings) once and shares the feed."""

    def __init__(self) -> None:
        self._feeds: dict[LoopKey, asyncio.Task[LoopFeed]] = {}
        self._scenes: dict[SceneKind, Scene] = {}

    def scene(self, kind: SceneKind) -> Scene:
        """The shared Scene object for a kind (its background cache is reused)."""
        if kind not in self._scenes:
            self._scenes[kind] = make_scene(kind)
        return self._scenes[kind]

    async def loop_feed(self, cam: CameraConfig, stream: StreamConfig) -> LoopFeed:
        """The shared feed for this camera's source and stream, encoding it on first use."""
        seconds = max(1, round(cam.loop_seconds))
        key: LoopKey = (cam.scene, str(cam.video_file or ""), seconds, stream)
        task = self._feeds.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._encode(cam, stream, seconds))
            self._feeds[key] = task
        return await asyncio.shield(task)

    async def _encode(self, cam: CameraConfig, stream: StreamConfig, seconds: int) -> LoopFeed:
        def work() -> LoopFeed:
            frames: Iterator[Frame]
            if cam.scene is SceneKind.FILE and cam.video_file is not None:
                frames = file_frames_blocking(Path(cam.video_file), stream, seconds)
            else:
                frames = scene_frames_blocking(self.scene(cam.scene), stream, seconds)
            return LoopFeed(encode_loop_blocking(frames, stream))

        return await asyncio.to_thread(work)

    async def close(self) -> None:
        """Stop every feed's timer."""
        for task in self._feeds.values():
            if task.done() and not task.cancelled() and task.exception() is None:
                await task.result().close()
            else:
                task.cancel()
        self._feeds.clear()


@dataclass
class CameraRuntime:
    """Everything the RTSP, ONVIF and discovery front ends need to know about one camera."""

    config: CameraConfig
    feeds: dict[str, Feed]
    auth: Authenticator
    scene: Scene
    ptz: PtzState | None
    started: float
    onvif_port: int = 0
    # Device settings an ONVIF client may change at run time (lost on restart, like a factory reset).
    hostname: str | None = None
    configurable_scopes: list[str] = field(default_factory=list)
    discoverable: bool = True
    clock_offset_s: float = 0.0  # SetSystemDateAndTime (Manual): the camera's clock minus the host's
    ntp_servers: list[str] = field(default_factory=list)
    dns_servers: list[str] = field(default_factory=list)
    search_domains: list[str] = field(default_factory=list)
    gateways: list[str] = field(default_factory=list)
    card: EdgeCard | None = None  # edge storage (ONVIF Profile G search and replay)
    network_down: bool = False  # SimulatorHandle.set_network: unreachable, but still recording to its card
    cache: FeedCache | None = None  # where a re-encoded loop comes from (reconfigure_stream)

    @property
    def name(self) -> str:
        """Camera name (its path segment)."""
        return self.config.name

    def stalled(self, now: float) -> bool:
        """True during the stall windows of the 'stall' fault."""
        faults = self.config.faults
        if faults.stall_every_s is None:
            return False
        cycle = (now - self.started) % faults.stall_every_s
        return cycle >= max(0.0, faults.stall_every_s - faults.stall_for_s)

    def phase(self, now: float) -> float:
        """Where in its (wall-clock-aligned) loop the scene is at ``now``."""
        seconds = max(1, round(self.config.loop_seconds))
        return (now % seconds) / seconds

    async def close(self) -> None:
        """Stop live feeds (shared loop feeds are closed by the cache)."""
        for feed in self.feeds.values():
            if isinstance(feed, LiveFeed):
                await feed.close()


def _live_feed(cam: CameraConfig, stream: StreamConfig, scene: Scene, ptz: PtzState) -> LiveFeed:
    encoder = make_encoder(stream)
    seconds = max(1, round(cam.loop_seconds))

    def render(capture_time: float) -> Frame:
        phase = (capture_time % seconds) / seconds
        frame = scene.render(phase, stream.width, stream.height, ptz.view(capture_time))
        ms = int(capture_time * 1000)
        pan, tilt, zoom = ptz.position(capture_time)
        overlay_blocking(frame, ms, 0, time.strftime("%H:%M:%S", time.gmtime(capture_time))
                         + f".{ms % 1000:03d} P{pan:+.2f} T{tilt:+.2f} Z{zoom:.2f}")
        return frame

    feed = LiveFeed(stream, encoder, render)
    # Encode one picture now so the parameter sets for DESCRIBE are known before anyone plays.
    encoder.encode_blocking(render(time.time()))
    return feed


async def build_camera(cam: CameraConfig, cache: FeedCache) -> CameraRuntime:
    """Prepare a camera's feeds (encoding shared loops in worker threads)."""
    scene = cache.scene(cam.scene)
    streams = {"main": cam.main, **({"sub": cam.sub} if cam.sub else {})}
    ptz = PtzState(cam.ptz_limits) if cam.ptz else None
    feeds: dict[str, Feed] = {}
    for name, stream in streams.items():
        if ptz is not None:
            feeds[name] = await asyncio.to_thread(_live_feed, cam, stream, scene, ptz)
        else:
            feeds[name] = await cache.loop_feed(cam, stream)
    realm = f"{cam.manufacturer} {cam.name}"
    auth = Authenticator(realm, cam.username, cam.password, cam.auth, cam.faults.refuse_auth)
    started = time.time()
    main = feeds["main"]
    card = (EdgeCard(cam.name, main.loop, started, cam.card_minutes * 60)
            if cam.card_minutes > 0 and isinstance(main, LoopFeed) else None)
    return CameraRuntime(cam, feeds, auth, scene, ptz, started, card=card, cache=cache)


async def reconfigure_stream(camera: CameraRuntime, name: str, stream: StreamConfig) -> None:
    """Give one of the camera's streams new encoder settings (ONVIF SetVideoEncoderConfiguration).

    The new feed replaces the old one before this returns; RTSP sessions still subscribed to the old
    feed notice and end (rtsp_session), as a camera restarting its encoder ends them. A shared loop
    stays in the cache for the other cameras that use it. Raises EncodeError.
    """
    if camera.ptz is not None:
        feed: Feed = await asyncio.to_thread(_live_feed, camera.config, stream, camera.scene, camera.ptz)
    elif camera.cache is not None:
        feed = await camera.cache.loop_feed(camera.config, stream)
    else:
        raise EncodeError(f"camera {camera.name} has no feed cache to encode from")
    camera.feeds[name] = feed
