"""Models of the PTZ API (contract 4)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PtzMove(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pan: float = Field(0.0, ge=-1, le=1, description="Pan velocity, -1 (left) .. 1 (right)")
    tilt: float = Field(0.0, ge=-1, le=1, description="Tilt velocity, -1 (down) .. 1 (up)")
    zoom: float = Field(0.0, ge=-1, le=1, description="Zoom velocity, -1 (out) .. 1 (in)")
    timeout_s: float | None = Field(
        None, gt=0, le=60,
        description="Stop by itself after this long (a safety net if the client vanishes mid-move)")


class PtzStatus(BaseModel):
    pan: float | None = Field(description="Position in the camera's generic space, -1..1")
    tilt: float | None
    zoom: float | None = Field(description="0 (wide) .. 1 (tele)")
    pan_tilt_moving: bool
    zoom_moving: bool
    tour: str | None = Field(description="Name of the tour running on this camera, if any")


class PresetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[^<>&]+$")


class PresetOut(BaseModel):
    token: str
    name: str


class PresetList(BaseModel):
    items: list[PresetOut]


class TourQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dwell_s: float = Field(10.0, ge=1, le=3600, description="Seconds to stay at each preset")


class TourState(BaseModel):
    name: str
    running: bool
    presets: list[str] = Field(description="Tokens visited in order: presets whose name starts with the tour "
                                           "name ('all' visits every preset)")


class AuxIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: str = Field(min_length=1, max_length=128, pattern=r"^[^<>&\s]+$",
                         description="One of the camera's auxiliary commands, e.g. tt:Wiper|On or tt:IRLamp|Auto")


class AuxOut(BaseModel):
    command: str
    answer: str = Field(description="What the camera answered (often the device's state after the command)")


class AuxList(BaseModel):
    items: list[str] = Field(description="Auxiliary commands the camera's PTZ node offers (empty: none)")
