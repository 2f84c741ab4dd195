"""Typed configuration of a simulated camera fleet.

The same models back the CLI flags, the YAML/TOML fleet file and the in-process API, so a fleet
described in any of the three behaves identically.
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vms_camsim.errors import ConfigError


class Codec(StrEnum):
    """RTP payload formats the simulator can serve."""

    H264 = "h264"
    H265 = "h265"
    MJPEG = "mjpeg"


class AuthMode(StrEnum):
    """Which RTSP authentication schemes a camera offers."""

    NONE = "none"
    BASIC = "basic"
    DIGEST = "digest"
    ANY = "any"


class SceneKind(StrEnum):
    """Built-in synthetic scenes (or a file played in a loop)."""

    PEOPLE = "people"
    CAR = "car"
    FIRE = "fire"
    TAMPER = "tamper"
    MIXED = "mixed"
    FIRE_SMOKE = "fire_smoke"  # flames and smoke with ground truth (vms_camsim.scenes_fire)
    FIRE_DECOYS = "fire_decoys"  # sunset, orange coat, car lights: nothing is fire
    FALL = "fall"  # a person falls, one lies down slowly, one ties a shoe (vms_camsim.scenes_fall)
    PLATES = "plates"  # cars with number plates (vms_camsim.plates)
    BEHAVIOUR = "behaviour"  # loitering, running, wrong way, dispersal + decoys (vms_camsim.scenes_behaviour)
    OBJECTS = "objects"  # an extinguisher taken away, a bag left behind + decoys (vms_camsim.scenes_behaviour)
    DOOR = "door"  # people through a door on access grants, one tailgater (vms_camsim.scenes_door)
    PANORAMA = "panorama"  # one person walking across a wide world and back: PTZ tracking (vms_camsim.scenes_panorama)
    FILE = "file"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StreamConfig(_Model):
    """One encoded stream (main or sub) of a camera."""

    codec: Codec = Field(Codec.H264, description="RTP payload format")
    width: int = Field(1920, ge=64, le=4096, description="Frame width in pixels (even)")
    height: int = Field(1080, ge=64, le=2160, description="Frame height in pixels (even)")
    fps: int = Field(25, ge=1, le=60, description="Frames per second")
    bitrate_kbps: int = Field(4000, ge=32, le=50_000, description="Target bitrate in kbit/s")
    gop_seconds: float = Field(1.0, gt=0, le=10, description="Seconds between keyframes")

    @model_validator(mode="after")
    def _check_dimensions(self) -> StreamConfig:
        if self.width % 2 or self.height % 2:
            raise ValueError("width and height must be even")
        if self.codec is Codec.MJPEG and (self.width > 2040 or self.height > 2040):
            raise ValueError("MJPEG over RTP (RFC 2435) is limited to 2040x2040")
        if self.codec is Codec.MJPEG and (self.width % 8 or self.height % 8):
            raise ValueError("MJPEG over RTP (RFC 2435) needs width and height in multiples of 8")
        return self


def _default_main() -> StreamConfig:
    return StreamConfig()


def _default_sub() -> StreamConfig:
    """768 kbit/s: an encoder lands a few percent under its target, and the 512 kbit/s that motion and tampering
    need must still be met (at 512 the sub stream measured 494-511 and `stream_degraded` was raised)."""
    return StreamConfig(width=640, height=360, fps=15, bitrate_kbps=768)


class FaultConfig(_Model):
    """Misbehaviour a camera can be told to show, so clients' error paths get exercised."""

    drop_every_s: float | None = Field(None, gt=0, description="Close every RTSP connection after N seconds")
    stall_every_s: float | None = Field(None, gt=0, description="Stop sending media every N seconds...")
    stall_for_s: float = Field(5.0, gt=0, description="...for this long, keeping the connection open")
    no_keyframes_after_s: float | None = Field(None, ge=0, description="Stop sending keyframes after N s")
    corrupt_every_n_frames: int | None = Field(None, ge=1, description="Garble one NAL every N frames")
    refuse_auth: bool = Field(False, description="Answer 401 even to correct credentials")
    udp_lose_every_n: int | None = Field(
        None, ge=2, description="Lose one RTP packet in N sent over UDP, as a lossy network path would (the "
                                "sequence number is spent, so a receiver sees the gap); TCP is unaffected")


class PtzLimits(_Model):
    """Normalised ONVIF PTZ space: pan/tilt in [-1, 1], zoom in [0, 1]."""

    pan_min: float = Field(-1.0, ge=-1, le=1)
    pan_max: float = Field(1.0, ge=-1, le=1)
    tilt_min: float = Field(-1.0, ge=-1, le=1)
    tilt_max: float = Field(1.0, ge=-1, le=1)
    zoom_min: float = Field(0.0, ge=0, le=1)
    zoom_max: float = Field(1.0, ge=0, le=1)
    max_speed: float = Field(0.5, gt=0, le=10, description="Full-scale units per second at speed 1.0")


class CameraConfig(_Model):
    """One simulated camera: identity, credentials, streams, scene, PTZ and faults."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Path segment, e.g. cam1")
    manufacturer: str = Field("VMS Simulator", description="ONVIF GetDeviceInformation Manufacturer")
    model: str = Field("CamSim-1", description="ONVIF model")
    serial: str | None = Field(None, description="Serial number; derived from the name when omitted")
    username: str = Field("admin", description="RTSP and ONVIF user")
    password: str = Field("admin", description="RTSP and ONVIF password")
    auth: AuthMode = Field(AuthMode.ANY, description="RTSP auth schemes offered")
    onvif_auth: bool = Field(True, description="Require WS-Security UsernameToken on ONVIF calls")
    main: StreamConfig = Field(default_factory=_default_main)
    sub: StreamConfig | None = Field(default_factory=_default_sub)
    scene: SceneKind = Field(SceneKind.PEOPLE, description="Synthetic scene or 'file'")
    video_file: Path | None = Field(None, description="Video played in a loop when scene is 'file'")
    loop_seconds: float = Field(10.0, ge=1, le=600, description="Length of the pre-encoded loop")
    ptz: bool = Field(False, description="PTZ camera: the view is a window over a larger scene")
    ptz_limits: PtzLimits = Field(default_factory=PtzLimits)
    faults: FaultConfig = Field(default_factory=FaultConfig)
    card_minutes: float = Field(10.0, ge=0, le=24 * 60, description="Edge storage (ONVIF Profile G): the card "
                                "keeps this many minutes of the main stream; 0 = no card (PTZ cameras have none)")

    @model_validator(mode="after")
    def _check_file(self) -> CameraConfig:
        if self.scene is SceneKind.FILE and self.video_file is None:
            raise ValueError("scene 'file' needs video_file")
        if self.scene is SceneKind.FILE and self.ptz:
            raise ValueError("PTZ cameras need a synthetic scene (their view is rendered live)")
        return self

    @property
    def serial_number(self) -> str:
        """Stable serial number (used in ONVIF and WS-Discovery endpoint ids)."""
        return self.serial or f"SIM-{self.name.upper()}"


class SimulatorConfig(_Model):
    """The whole simulator process: listen addresses and the fleet."""

    host: str = Field("127.0.0.1", description="Address RTSP and ONVIF bind to")
    rtsp_port: int = Field(8554, ge=0, le=65535, description="RTSP TCP port (0 = any free port)")
    onvif_port: int | None = Field(8000, ge=0, le=65535, description="First ONVIF port; camera i uses +i")
    discovery: bool = Field(False, description="Answer WS-Discovery probes on UDP 3702")
    discovery_interface: str | None = Field(None, description="IPv4 address of the interface to join on")
    discovery_port: int = Field(3702, ge=1, le=65535)
    advertise_host: str | None = Field(None, description="Host written into URLs (defaults to host)")
    ground_truth_dir: Path | None = Field(None, description="Write each scene's timeline JSON here")
    cameras: list[CameraConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_unique(self) -> SimulatorConfig:
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ValueError("camera names must be unique")
        return self

    @property
    def public_host(self) -> str:
        """Host name clients should use in URLs."""
        if self.advertise_host:
            return self.advertise_host
        return "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104


def load_fleet_file(path: Path) -> dict[str, Any]:
    """Read a YAML or TOML fleet description into a plain dict.

    Raises ConfigError with a readable message on a missing file or a syntax error.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read fleet file {path}: {exc.strerror}") from exc
    try:
        data: Any = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"fleet file {path} is not valid: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"fleet file {path} must contain a mapping at the top level")
    return data


def build_config(data: dict[str, Any]) -> SimulatorConfig:
    """Validate a dict into a SimulatorConfig, turning pydantic errors into one ConfigError."""
    try:
        return SimulatorConfig.model_validate(data)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("invalid simulator configuration:\n  " + "\n  ".join(lines)) from exc


def expand_fleet(data: dict[str, Any]) -> dict[str, Any]:
    """Apply a fleet file's conveniences before validation.

    ``defaults`` (a camera mapping) is merged under every camera; a camera with ``count: n``
    becomes n cameras named ``<name>1..<name>n``. Raises ConfigError on a malformed shape.
    """
    data = dict(data)
    defaults = data.pop("defaults", {}) or {}
    cameras = data.get("cameras", []) or []
    if not isinstance(defaults, dict) or not isinstance(cameras, list):
        raise ConfigError("'defaults' must be a mapping and 'cameras' a list")
    expanded: list[dict[str, Any]] = []
    for entry in cameras:
        if not isinstance(entry, dict):
            raise ConfigError(f"camera entries must be mappings, got {entry!r}")
        merged = {**defaults, **entry}
        count = merged.pop("count", None)
        if count is None:
            expanded.append(merged)
            continue
        if not isinstance(count, int) or not 1 <= count <= 1000:
            raise ConfigError(f"camera {merged.get('name')!r}: count must be an integer 1..1000")
        expanded += [{**merged, "name": f"{merged.get('name', 'cam')}{i}"} for i in range(1, count + 1)]
    data["cameras"] = expanded
    return data
