"""The live socket's `status` message: what a viewer is told while there is no picture yet."""
from __future__ import annotations

import json

import pytest

from vms_server.playback.live_routes import status_message


@pytest.mark.parametrize(("state", "wire"), [
    ("online", "connecting"),  # online, codec parameters not in yet: the picture is on its way, not "offline"
    ("connecting", "connecting"),
    ("offline", "offline"),
    ("stopped", "offline"),
    ("unauthorised", "unauthorised"),
    ("unsupported", "unsupported"),
])
def test_a_stream_state_reaches_the_viewer_as_what_it_means(state: str, wire: str) -> None:
    message = json.loads(status_message(state, "why"))
    assert message["type"] == "status" and message["state"] == wire
    assert message["message"] == ("waiting for the stream's first keyframe" if state == "online" else "why")
