"""Camera simulator: RTSP (H.264/H.265/MJPEG), ONVIF and WS-Discovery for test and demo fleets.

Public API: :class:`SimulatorHandle` (in-process), :func:`spawn_simulator` (child process), the
config models, and :func:`decode_stamp` to read the capture-time stamp from decoded frames.
"""

from vms_camsim.barcode import FrameStamp, decode_stamp
from vms_camsim.config import (
    AuthMode,
    CameraConfig,
    Codec,
    FaultConfig,
    PtzLimits,
    SceneKind,
    SimulatorConfig,
    StreamConfig,
)
from vms_camsim.errors import ConfigError, EncodeError, SimulatorError
from vms_camsim.handle import SimulatorHandle, SimulatorProcess, spawn_simulator

__all__ = [
    "AuthMode",
    "CameraConfig",
    "Codec",
    "ConfigError",
    "EncodeError",
    "FaultConfig",
    "FrameStamp",
    "PtzLimits",
    "SceneKind",
    "SimulatorConfig",
    "SimulatorError",
    "SimulatorHandle",
    "SimulatorProcess",
    "StreamConfig",
    "decode_stamp",
    "spawn_simulator",
]
