"""The typed configuration tree. Every configurable parameter is a leaf with bounds and a description; its
dotted path ("video.segment_s") is the key the hierarchy, the API and the cache use. The JSON schema is
generated from these classes, so documentation and validation cannot drift apart."""

from __future__ import annotations

import datetime as dt
import enum
import json
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.config import JsonDict
from pydantic.fields import FieldInfo


class Priority(enum.StrEnum):
    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    STANDARD = "STANDARD"


Channel = Literal["push", "sms", "whatsapp", "email", "webhook"]
CRITICAL: JsonDict = {"critical": True}  # refreshed in the background before the cache entry expires
PER_MODEL: JsonDict = {"per_model": True}  # may be overridden per analytics model at each level
PER_CRIT: JsonDict = {**PER_MODEL, **CRITICAL}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class AnalyticsConfig(_Section):
    enabled: bool = Field(True, description="Run the model where it is configured", json_schema_extra=PER_MODEL)
    priority: Priority = Field(Priority.STANDARD, description="Queue and SLA class of the model",
                               json_schema_extra=PER_CRIT)
    confidence: float = Field(0.5, ge=0.0, le=1.0, description="Detections below this confidence are dropped",
                              json_schema_extra=PER_CRIT)
    min_height: int = Field(360, ge=120, le=4320, description="Minimum stream height (pixels) the model needs",
                            json_schema_extra=PER_MODEL)
    min_bitrate_kbps: int = Field(512, ge=64, le=100_000, description="Minimum stream bitrate the model needs",
                                  json_schema_extra=PER_MODEL)
    min_duration_s: float = Field(2.0, ge=0.5, le=60, description="Shortest video a job may carry",
                                  json_schema_extra=PER_MODEL)
    overlap_s: float = Field(1.0, ge=0, le=5, description="Overlap between consecutive jobs of the model",
                             json_schema_extra=PER_MODEL)


class VideoConfig(_Section):
    segment_s: float = Field(5.0, ge=1, le=10, description="Length of an analytics job segment")
    overlap_s: float = Field(1.0, ge=0, le=5, description="Default overlap between segments")
    normalise_width: int = Field(640, ge=160, le=3840, description="Width frames are normalised to")
    normalise_height: int = Field(480, ge=120, le=2160, description="Height frames are normalised to")
    normalise_fps: float = Field(15.0, ge=1, le=60, description="Frame rate frames are normalised to")


class QuietHours(_Section):
    enabled: bool = Field(False, description="Hold non-critical notifications during quiet hours")
    start: dt.time = Field(dt.time(22, 0), description="Local start of quiet hours")
    end: dt.time = Field(dt.time(6, 0), description="Local end of quiet hours")
    allow: list[Priority] = Field(default_factory=lambda: [Priority.CRITICAL],
                                  description="Priorities notified even during quiet hours")


class Escalation(_Section):
    enabled: bool = Field(True, description="Escalate events nobody acknowledged")
    after_minutes: int = Field(10, ge=1, le=1440, description="Escalate after this long unacknowledged")
    channels: list[Channel] = Field(default_factory=lambda: list[Channel](["sms"]),
                                    description="Channels of the escalation")
    repeat: int = Field(2, ge=0, le=20, description="How many further escalations")


def _default_channels() -> dict[str, list[Channel]]:
    return {"*": ["push"], "fire_smoke": ["push", "sms"]}


class NotificationConfig(_Section):
    channels: dict[str, list[Channel]] = Field(
        default_factory=_default_channels,
        description="Channels per event type ('*' for every other type)")
    escalation: Escalation = Field(default_factory=Escalation)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    language: Literal["en", "de", "fr"] = Field(
        "en", description="Wording of messages to recipients without a language of their own (addresses, "
                          "webhook and MQTT texts); a user's contact language wins")
    escalate_to: Literal["ticket", "jira", "servicenow"] = Field(
        "ticket", description="Where an operator's Escalate goes: the built-in ticket only, or also a Jira issue "
                              "or ServiceNow incident through the enabled channel of that kind")


class AutoTrackConfig(_Section):
    """PTZ auto-tracking of a camera (vms_server.ptz.autotrack); set at camera level on PTZ cameras."""

    enabled: bool = Field(False, description="An intrusion or abnormal-behaviour track steers this PTZ camera")
    target_height: float = Field(0.4, ge=0.1, le=0.9, description="Zoom until the tracked person is this "
                                 "fraction of the picture's height")
    home_preset: str = Field("", max_length=64, pattern=r"^[^<>&]*$", description="Preset token the camera "
                             "returns to after the quiet time ('' stays where tracking left it)")
    quiet_s: float = Field(15.0, ge=1, le=3600, description="Seconds without a tracked person before going home")
    operator_hold_s: float = Field(30.0, ge=1, le=3600, description="An operator's joystick move suspends "
                                   "auto-tracking for this long (from the operator's last move)")


class PtzConfig(_Section):
    autotrack: AutoTrackConfig = Field(default_factory=AutoTrackConfig)


class CorrelationConfig(_Section):
    """Cross-camera correlation (vms_server.events.neighbours): events of one type on neighbouring cameras."""

    area: str = Field("", max_length=64, pattern=r"^[^<>&]*$", description="Cameras with the same non-empty area "
                      "are neighbours: the same event type on them within the window becomes one incident")
    window_s: float = Field(60.0, ge=1, le=3600, description="Seconds within which neighbours' events are linked")


class ConfigTree(_Section):
    """Everything configurable through the hierarchy."""

    analytics: AnalyticsConfig = Field(default_factory=AnalyticsConfig)
    video: VideoConfig = Field(default_factory=VideoConfig)
    notifications: NotificationConfig = Field(default_factory=NotificationConfig)
    ptz: PtzConfig = Field(default_factory=PtzConfig)
    correlation: CorrelationConfig = Field(default_factory=CorrelationConfig)


@dataclass(frozen=True)
class KeySpec:
    key: str
    section: type[_Section]
    field: str
    info: FieldInfo
    default: Any
    per_model: bool
    critical: bool

    def validate(self, value: Any) -> Any:
        """The value as the key stores it (JSON-compatible). Raises ValueError with the reason."""
        holder = self.section.model_construct()
        try:
            self.section.__pydantic_validator__.validate_assignment(holder, self.field, value)
        except ValidationError as exc:
            raise ValueError("; ".join(e["msg"] for e in exc.errors())) from None
        return holder.model_dump(mode="json", include={self.field})[self.field]


def _walk(model: type[_Section], prefix: str) -> list[KeySpec]:
    specs: list[KeySpec] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        path = f"{prefix}{name}"
        if isinstance(annotation, type) and issubclass(annotation, _Section):
            specs += _walk(annotation, path + ".")
            continue
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        default = model().model_dump(mode="json")[name]
        specs.append(KeySpec(path, model, name, info, default, bool(extra.get("per_model")),
                             bool(extra.get("critical"))))
    return specs


@cache
def keys() -> dict[str, KeySpec]:
    return {spec.key: spec for spec in _walk(ConfigTree, "")}


def spec_of(key: str) -> KeySpec:
    """Raises KeyError for a key the tree does not have."""
    return keys()[key]


def json_schema() -> dict[str, Any]:
    return ConfigTree.model_json_schema()


# System defaults that differ per model: the requirements table (REQUIREMENTS.md section 7).
_TABLE: dict[str, tuple[Priority, int, int, float, float]] = {
    "intrusion": (Priority.MEDIUM, 480, 1000, 3, 1),
    "motion": (Priority.STANDARD, 360, 512, 2, 0.5),
    "tampering": (Priority.HIGH, 360, 512, 2, 0),
    "fire_smoke": (Priority.CRITICAL, 720, 2000, 5, 2),
    "crowd": (Priority.MEDIUM, 720, 2000, 5, 1),
    "missing_object": (Priority.STANDARD, 480, 1000, 10, 2),
    "abnormal_behavior": (Priority.HIGH, 720, 2000, 5, 1),
    "fallen": (Priority.HIGH, 480, 1000, 3, 1),
    "tailgating": (Priority.MEDIUM, 720, 2000, 3, 1),
    "anpr": (Priority.MEDIUM, 1080, 3000, 2, 0.5),
}


def model_defaults(model: str) -> dict[str, Any]:
    """Built-in per-model system defaults (empty for a model the table does not know)."""
    row = _TABLE.get(model)
    if row is None:
        return {}
    priority, height, kbps, duration, overlap = row
    return {"analytics.priority": priority.value, "analytics.min_height": height,
            "analytics.min_bitrate_kbps": kbps, "analytics.min_duration_s": duration, "analytics.overlap_s": overlap}


def known_models() -> list[str]:
    return list(_TABLE)


def markdown_table() -> str:
    """The key reference of docs/configuration.md (a test keeps the document in step with the code)."""
    lines = ["| key | default | bounds | per model | description |", "|---|---|---|---|---|"]
    for spec in keys().values():
        info = spec.section.model_json_schema()["properties"][spec.field]
        bounds = " ".join(f"{k} {info[k]}" for k in ("minimum", "exclusiveMinimum", "maximum") if k in info)
        if "enum" in info:
            bounds = "one of " + ", ".join(str(v) for v in info["enum"])
        elif isinstance(spec.info.annotation, type) and issubclass(spec.info.annotation, enum.Enum):
            bounds = "one of " + ", ".join(str(m.value) for m in spec.info.annotation)
        default = json.dumps(spec.default)
        lines.append(f"| `{spec.key}` | `{default}` | {bounds} | {'yes' if spec.per_model else ''} | "
                     f"{spec.info.description or ''} |")
    return "\n".join(lines)
