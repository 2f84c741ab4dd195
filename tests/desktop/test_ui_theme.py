"""The `ui/` folder through its resource module: both themes parse and style real widgets, every icon the client
asks for is a valid SVG, and the alarm sounds are the WAVs their script generates."""

from __future__ import annotations

import ast
import wave
from pathlib import Path

import pytest
from PySide6.QtGui import QColor
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication, QPushButton
from pytestqt.qtbot import QtBot

from vms_desktop import ui_theme

REPO = Path(__file__).resolve().parents[2]


def test_themes_style_widgets(qtbot: QtBot) -> None:
    assert ui_theme.theme_names() == ["dark", "light"]
    button = QPushButton("x")
    qtbot.addWidget(button)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before = app.styleSheet()
    try:
        colours = {}
        for name in ("dark", "light"):
            assert ui_theme.apply_theme(app, name) and app.property("vms_theme") == name
            button.ensurePolished()
            button.setStyleSheet("/* repolish */")
            colours[name] = button.palette().color(button.backgroundRole()).lightness()
        assert colours["dark"] < 80 < colours["light"], colours
        assert not ui_theme.apply_theme(app, "no-such-theme")
    finally:
        app.setStyleSheet(before)
        app.setProperty("vms_theme", None)


def _icon_names() -> set[str]:
    """Every icon("name") call in the client's source."""
    names: set[str] = set()
    for path in (REPO / "vms_desktop").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "icon"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                names.add(str(node.args[0].value))
    return names


def test_icons_exist_and_render(qtbot: QtBot) -> None:
    used = _icon_names() | {"mute"}  # icon("mute" if muted else "sound"): not a constant argument
    assert {"sound", "monitor", "assign"} <= used
    for path in sorted((ui_theme.ui_dir() / "icons").glob("*.svg")):
        assert QSvgRenderer(str(path)).isValid(), path.name
    for name in used:
        assert ui_theme.icon_path(name).is_file(), name
        assert not ui_theme.icon(name).isNull(), name
    assert ui_theme.icon("no-such-icon").isNull()


def test_sounds_are_the_generated_wavs(tmp_path: Path) -> None:
    import runpy

    script = runpy.run_path(str(ui_theme.ui_dir() / "sounds" / "make_sounds.py"))
    assert script["main"](tmp_path) == 0
    for priority in ("CRITICAL", "HIGH", "MEDIUM"):
        shipped = ui_theme.sound_path(priority)
        assert shipped is not None
        assert shipped.read_bytes() == (tmp_path / shipped.name).read_bytes(), f"{shipped.name}: run the script"
        with wave.open(str(shipped)) as wav:
            seconds = wav.getnframes() / wav.getframerate()
            assert wav.getnchannels() == 1 and wav.getsampwidth() == 2 and 0.5 < seconds < 1.0
    assert ui_theme.sound_path("LOW") is None and ui_theme.sound_path("critical") == ui_theme.sound_path("CRITICAL")


def test_ui_dir_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "site.qss").write_text("QWidget { color: #123456; }", encoding="utf-8")
    monkeypatch.setenv("VMS_UI_DIR", str(tmp_path))
    assert ui_theme.theme_names() == ["site"]
    assert "#123456" in ui_theme.theme_text("site") and ui_theme.sound_path("CRITICAL") is None
    assert QColor("#123456").isValid()
