"""Layouts and preferences saved when a bare `host:port` meant http are still the operator's once it means https."""
from __future__ import annotations

from pathlib import Path

from vms_desktop.store import LocalStore
from vms_desktop.wall.models.layout import Layout, LayoutItem

OLD = "op@http://10.0.0.5:8080"
NEW = "op@https://10.0.0.5:8080"


def test_what_was_saved_under_plain_http_moves_to_the_https_key_once(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "state.json")
    store.save_layout(OLD, Layout(name="Lobby", items=[LayoutItem("cam-1", 0, 0)]))
    store.set_preference(OLD, "workspace", {"windows": 2})
    store.save_layout("other@http://10.0.0.5:8080", Layout(name="Not mine"))
    store.save_layout("op@http://10.0.0.6:8080", Layout(name="Another server"))

    assert store.user_key("op", "https://10.0.0.5:8080") == NEW  # what the main window does at login
    assert [(layout.name, layout.items[0].camera_id) for layout in store.layouts(NEW)] == [("Lobby", "cam-1")]
    assert store.adopt_plain_http(NEW) == 0  # once
    assert store.preference(NEW, "workspace") == {"windows": 2}
    assert store.layouts(OLD) == [] and store.preference(OLD, "workspace") is None
    assert [layout.name for layout in store.layouts("other@http://10.0.0.5:8080")] == ["Not mine"]
    assert [layout.name for layout in store.layouts("op@https://10.0.0.6:8080")] == []

    store.save_layout(OLD, Layout(name="Saved by an old client later"))
    assert store.adopt_plain_http(NEW) == 0  # the https key holds the operator's work now: nothing overwritten
    assert [layout.name for layout in store.layouts(NEW)] == ["Lobby"]
    store.close()
    reopened = LocalStore(tmp_path / "state.json")
    assert [layout.name for layout in reopened.layouts(NEW)] == ["Lobby"]


def test_only_an_https_key_adopts(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "state.json")
    store.save_layout(OLD, Layout(name="Lobby"))
    assert store.adopt_plain_http(OLD) == 0 and store.adopt_plain_http("no-server-part") == 0
    assert [layout.name for layout in store.layouts(OLD)] == ["Lobby"]
