"""Negative scenes on real footage through the whole path (#13): vtest.avi (people walking past a campus
building) streamed by the simulator over RTSP into the real server with fire_smoke, fallen and intrusion enabled.
Nothing burns and nobody falls: neither fallen nor fire_smoke may raise an event. The people are real, so
intrusion must raise events (the person detector works on this stream, and the models did analyse it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.server.analytics.real_footage import NEGATIVE, POSITIVE, VTEST, footage_camera, watch
from tests.server.analytics.test_pipeline_e2e import api_fast  # noqa: F401 - the real app with 2 s jobs
from tests.server.helpers import ApiClient
from vms_camsim import SimulatorConfig, SimulatorHandle

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
LOOP = 20  # the first 20 s of the clip: walkers throughout
LOOPS = 3


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    if not VTEST.exists():
        pytest.skip(f"{VTEST} is absent: it comes with the Debian package opencv-doc (scripts/apt-packages.txt)")
    config = SimulatorConfig(rtsp_port=0, onvif_port=None, cameras=[footage_camera("hall", LOOP)])
    async with SimulatorHandle.start(config) as handle:
        yield handle


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_real_footage_no_fall_and_no_fire(
    api_fast: ApiClient,  # noqa: F811 - the fixture
    sim: SimulatorHandle,
) -> None:
    watched = await watch(api_fast, sim.rtsp_url("hall", "main"), LOOP, LOOPS)
    assert watched.seconds == LOOP * LOOPS
    for model in (*NEGATIVE, POSITIVE):  # every model analysed the footage: silence is not idleness
        assert watched.jobs.get(model, 0) >= LOOPS * LOOP / 10, watched.jobs  # 21 fallen jobs measured
    print({model: len(events) for model, events in watched.events.items()}, watched.jobs)  # the figures, with -s
    fallen = watched.events["fallen"]
    assert [(e["timestamp"], e["details"]) for e in fallen] == []
    fires = [(e["timestamp"], e["detection"]["bounding_box"], e["details"]) for e in watched.events["fire_smoke"]]
    # fire_smoke is quiet on this clip since the rules of #13's real-footage pass (docs/analytics.md, "Real footage
    # through the whole path"): before them, a traffic cone that walkers' legs hid and uncovered read as flame and
    # walkers on the lawn, and the fading shadow where a group stood, as smoke. Measured 0 events in the
    # benchmark's 2 x 79 s and in three runs of this test; offline, the detector finds nothing on any frame of
    # the clip, decoded directly or through the simulator's H.264 (two loops each).
    assert fires == []
    people = watched.events[POSITIVE]
    # Walkers cross the view throughout: each loop brings people who stay more than the 1 s dwell (120 events in the
    # benchmark's 2.6 minutes); at least one a loop leaves room for a loaded machine.
    assert len(people) >= LOOPS, len(people)
