"""Plate text: normalisation to formats, the vote over a pass's reads, the per-character score; and the model
on rendered frames of the plates scene (no network: the scene's pictures straight into the model)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.server.analytics.conftest import make_job
from vms_camsim.plates import PlateScene, make_passes
from vms_server.analytics.base import CameraContext
from vms_server.analytics.plugins.anpr import AnprModel
from vms_server.analytics.plugins.anpr_text import Read, char_accuracy, edit_distance, normalise, vote
from vms_server.analytics.types import Frame

UK = re.compile("[A-Z]{2}[0-9]{2}[A-Z]{3}")
OLD = re.compile("[A-Z]{3}[0-9]{3,4}")


def test_normalise_fits_the_formats_with_confusable_characters() -> None:
    assert normalise("ab12 cde", [UK]).text == "AB12CDE"
    fixed = normalise("A812CDE", [UK])  # 8 where a letter must be: B
    assert (fixed.text, fixed.format, fixed.substitutions) == ("AB12CDE", UK.pattern, 1)
    assert normalise("ABC1O34", [UK, OLD]).text == "ABC1034"
    unknown = normalise("HELLO-WORLD", [UK])
    assert unknown.format is None and unknown.text == "HELLOWORLD"


def _read(text: str, p: float = 0.9) -> Read:
    return Read(text, tuple(p for _ in text), UK.pattern if UK.fullmatch(text) else None, 0.0)


def test_vote_outvotes_a_bad_frame_per_character() -> None:
    result = vote([_read("AB12CDE"), _read("AB12CDF", 0.5), _read("AB12CDE"), _read("B12CDE", 0.99)], [UK])
    assert result is not None and result.text == "AB12CDE" and result.format == UK.pattern
    assert result.reads == 3 and result.agreeing == 2 and 0.5 < result.confidence < 1
    assert vote([], [UK]) is None


def test_char_accuracy_counts_edits() -> None:
    assert edit_distance("AB12CDE", "B12CDE") == 1
    assert char_accuracy([("AB12CDE", "AB12CDE"), ("RVX2778", "2778")]) == pytest.approx(11 / 14)
    assert char_accuracy([("ABC", "")]) == 0.0


def test_config_refuses_a_format_that_is_not_a_regex() -> None:
    with pytest.raises(ValidationError, match="not a regular expression"):
        AnprModel().parse_config({"formats": ["[A-Z"]})
    with pytest.raises(ValidationError):
        AnprModel().parse_config({"formats": []})


def test_model_reads_each_pass_of_the_scene_once() -> None:
    """Day passes without heavy blur are read exactly; every pass gives one read, in its direction."""
    scene = PlateScene(make_passes(3, seed=7, night_share=0.0))
    model = AnprModel()
    model.load()
    assert model.providers and model.available
    ctx = CameraContext(uuid.uuid4(), model.parse_config({}))
    loop, fps, t0 = 15.0, 5, 1_000_000.0
    # From 2 s before the loop's end (an empty gate to learn), one loop and 2 s more (the last pass ends).
    frames = [Frame(i, t0 + i / fps, scene.render((i / fps / loop) % 1, 1280, 720))
              for i in range(-2 * fps, int(loop * fps) + 2 * fps)]
    found = []
    for k in range(0, len(frames), 10):
        found += model.process(make_job(frames[k:k + 10], ["anpr"]), ctx)
    by_pass = {car.object_id: [d for d in found if t0 + car.start * loop <= d.ts <= t0 + car.end * loop]
               for car in scene.passes}
    assert sum(len(v) for v in by_pass.values()) == len(found)  # every read belongs to a pass
    for car in scene.passes:
        reads = by_pass[car.object_id]
        assert len(reads) <= 1, reads  # never split
        if car.blur_px >= 8:  # the fast car may be unreadable (docs/analytics.md: what fools it)
            continue
        assert len(reads) == 1 and reads[0].details["plate"] == car.plate, (car, found)
        assert reads[0].details["direction"] == car.direction and reads[0].details["reads"] >= 2
        assert reads[0].frame is not None and reads[0].frame.shape[0] > 50


def test_plates_scene_ground_truth(tmp_path: Path) -> None:
    """The timeline written beside the scene lists every pass with its plate, times and conditions; the same
    seed gives the same plates."""
    scene = PlateScene()
    scene.write_timeline(tmp_path / "t.json", 30.0, 5)
    truth = json.loads((tmp_path / "t.json").read_text())
    assert truth["scene"] == "plates"
    plates = truth["plates"]
    assert [p["plate"] for p in plates] == [p.plate for p in make_passes()] == [p.plate for p in scene.passes]
    assert len({p["plate"] for p in plates}) == 6 and all(re.fullmatch("[A-Z0-9]{7}", p["plate"]) for p in plates)
    assert {p["night"] for p in plates} == {True, False} and {p["motion_blur"] for p in plates} == {True, False}
    assert all(0 <= p["start"] < p["end"] <= 30 for p in plates)
    assert [c["id"] for c in truth["objects"]] == [p["object_id"] for p in plates]
    assert scene.render(0.5, 320, 180).shape == (180, 320, 3)
