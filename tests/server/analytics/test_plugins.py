"""Plugins: the ten names, third-party models through the `vms.analytics` entry point group, declared models
refusing to run, and onnxruntime provider selection and fallback detection."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from tests.server.analytics.tiny_yolo import build_tiny_yolo
from vms_camsim.config import SceneKind
from vms_camsim.scenes import make_scene
from vms_server.analytics.base import CameraContext, NoConfig, Requirements
from vms_server.analytics.errors import ModelUnavailable
from vms_server.analytics.evaluation import jobs_of, scene_frames
from vms_server.analytics.onnx_runtime import LoadedSession, SessionCache, choose_providers
from vms_server.analytics.plugins._declared import DeclaredModel
from vms_server.analytics.registry import ModelRegistry
from vms_server.analytics.types import Priority

PLUGIN = '''
from vms_server.analytics.base import AnalyticsModel, Requirements
from vms_server.analytics.types import Detection, Priority


class Brightness(AnalyticsModel):
    name = "brightness"
    title = "Too dark"
    event_type = "dark"
    default_priority = Priority.STANDARD
    requirements = Requirements(min_height=120, min_bitrate_kbps=64, min_duration_s=1.0, overlap_s=0.0)

    def process(self, job, ctx):
        return [Detection(self.name, self.event_type, f.ts, 1.0) for f in job.decoded_frames()
                if f.image.mean() < 40]
'''


def test_third_party_model_through_an_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "acme_plugin.py").write_text(PLUGIN, encoding="utf-8")
    dist = tmp_path / "acme_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-plugin\nVersion: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text(
        "[vms.analytics]\nbrightness = acme_plugin:Brightness\nmotion = acme_plugin:Brightness\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = ModelRegistry()
    names = registry.names()
    assert names[:10] == ["intrusion", "motion", "tampering", "fire_smoke", "crowd", "missing_object",
                          "abnormal_behavior", "fallen", "tailgating", "anpr"]
    assert "brightness" in names
    assert registry.get("motion").__module__ == "vms_server.analytics.plugins.motion"  # built-ins are not shadowed
    model = registry.get("brightness")()
    frames = list(scene_frames(make_scene(SceneKind.TAMPER), 30, loop_seconds=30, width=160, height=120))
    ctx = CameraContext(uuid.uuid4(), NoConfig())
    dark = [d for job in jobs_of(frames, "brightness") for d in model.process(job, ctx)]
    assert dark and all(d.event_type == "dark" for d in dark)  # the covered lens
    sys.modules.pop("acme_plugin", None)


def test_declared_models_are_listed_but_do_not_run() -> None:
    registry = ModelRegistry(include_entry_points=False)
    declared = [n for n in registry.names() if not registry.get(n).available]
    assert not {"fire_smoke", "fallen", "missing_object", "abnormal_behavior"} & set(declared)
    assert declared == []  # every built-in is implemented now; the slot still refuses a declared-only plugin

    class Someday(DeclaredModel):
        name, title, event_type = "someday", "Someday", "someday"
        default_priority = Priority.STANDARD
        requirements = Requirements(min_height=240, min_bitrate_kbps=0, min_duration_s=1.0, overlap_s=0.0)

    frames = list(scene_frames(make_scene(SceneKind.FIRE), 1, loop_seconds=10, width=160, height=120))
    with pytest.raises(ModelUnavailable, match="declared only"):
        Someday().process(next(jobs_of(frames, "someday")), CameraContext(uuid.uuid4(), NoConfig()))
    with pytest.raises(KeyError):
        registry.get("nope")


def test_providers_chosen_and_fallback_detected(tmp_path: Path) -> None:
    assert choose_providers(["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"]) == [
        "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(["AzureExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    loaded = SessionCache().get(build_tiny_yolo(tmp_path / "m.onnx"))
    assert loaded.obtained == ["CPUExecutionProvider"] and not loaded.fell_back
    # What onnxruntime-gpu does when CUDA cannot start: it hands back a CPU-only session without an error.
    silent = LoadedSession(loaded.session, ["CUDAExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"])
    assert silent.fell_back
    assert SessionCache().get(tmp_path / "m.onnx") is not loaded  # one session per cache (per process)
