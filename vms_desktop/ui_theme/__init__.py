"""The client's non-code resources from the top-level `ui/` folder: QSS themes, SVG icons and alarm sounds.

`ui/` sits beside the `vms_desktop` package in a checkout and in the PyInstaller bundle alike
(installers/pyinstaller/speclib.py copies it), so it is found next to the package; `VMS_UI_DIR` points
elsewhere (a site's own theme). A missing file is logged and the client runs on Qt's defaults: a theme is
never a reason not to show the cameras.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

logger = logging.getLogger(__name__)
DEFAULT_THEME = "dark"  # the control room's: dim, so that the pictures are the brightest thing in the room
THEME_KEY = "ui.theme"  # the operator's local preference
SOUNDS = {"CRITICAL": "critical.wav", "HIGH": "high.wav", "MEDIUM": "medium.wav"}  # LOW events do not ring


def ui_dir() -> Path:
    override = os.environ.get("VMS_UI_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "ui"


def theme_names() -> list[str]:
    return sorted(p.stem for p in (ui_dir() / "themes").glob("*.qss"))


def theme_text(name: str) -> str:
    """The QSS of a theme, `url(icons/x.svg)` resolved against the ui folder. Empty when there is none."""
    path = ui_dir() / "themes" / f"{name}.qss"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        logger.warning("theme %r not loaded: %s", name, exc)
        return ""
    return text.replace("url(icons/", f"url({(ui_dir() / 'icons').as_posix()}/")


def apply_theme(app: QApplication, name: str = DEFAULT_THEME) -> bool:
    """Style the whole application (main window, dialogs, admin window) with a theme; False if not found."""
    text = theme_text(name)
    if not text:
        return False
    app.setStyleSheet(text)
    app.setProperty("vms_theme", name)
    return True


def icon_path(name: str) -> Path:
    return ui_dir() / "icons" / f"{name}.svg"


def icon(name: str) -> QIcon:
    """An SVG icon of ui/icons; an empty icon (and a log line) when it is missing."""
    path = icon_path(name)
    if not path.is_file():
        logger.warning("icon %r missing from %s", name, path.parent)
        return QIcon()
    return QIcon(str(path))


def sound_path(priority: str) -> Path | None:
    """The alarm sound of an event priority, or None for priorities that do not ring."""
    name = SOUNDS.get(priority.upper())
    if name is None:
        return None
    path = ui_dir() / "sounds" / name
    return path if path.is_file() else None
