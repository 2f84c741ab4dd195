"""USB joysticks through SDL2 (pygame-ce), polled on a Qt timer.

SDL only reports devices; what they do is decided by the JSON description and the mapper. When pygame is
not installed or no device is plugged in, this quietly does nothing.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer

from vms_desktop.actions import ActionManager
from vms_desktop.joystick.devices import description_for, load_descriptions
from vms_desktop.joystick.mapper import JoystickMapper
from vms_desktop.store import LocalStore

logger = logging.getLogger(__name__)
POLL_MS = 20


class SdlJoysticks(QObject):
    def __init__(self, commands: ActionManager, user_dir: Path | None = None,
                 store: LocalStore | None = None, user: str = "") -> None:
        super().__init__()
        self.commands = commands
        self.store = store
        self.user = user
        self.descriptions = load_descriptions(user_dir)
        self.devices: list[tuple[Any, JoystickMapper]] = []
        self._pygame: Any = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)

    def start(self) -> int:
        """Open every connected joystick; returns how many. Zero without pygame or devices."""
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        # SDL would install SIGINT/SIGTERM handlers that turn the signal into an SDL_QUIT event nobody reads:
        # the client then ignored SIGTERM. The client handles signals itself (vms_desktop.__main__).
        os.environ["SDL_NO_SIGNAL_HANDLERS"] = "1"
        try:
            import pygame
        except ImportError:
            logger.info("pygame-ce not installed: USB joysticks disabled")
            return 0
        self._pygame = pygame
        pygame.joystick.init()
        for index in range(pygame.joystick.get_count()):
            stick = pygame.joystick.Joystick(index)
            stick.init()
            description = description_for(stick.get_name(), self.descriptions)
            logger.info("joystick %r uses description %s", stick.get_name(), description.id)
            self.devices.append((stick, JoystickMapper(description, self.commands)))
        self._apply_saved()
        if self.devices:
            self._timer.start()
        return len(self.devices)

    def tuning(self) -> tuple[float, float]:
        """(dead zone, sensitivity) in force: the user's, else the first device's, else defaults."""
        if self.store is not None:
            saved = self.store.preference(self.user, "joystick.tuning")
            if isinstance(saved, list) and len(saved) == 2:
                return float(saved[0]), float(saved[1])
        if self.devices:
            mapper = self.devices[0][1]
            return mapper.dead_zone, mapper.sensitivity
        return 0.1, 1.0

    def set_tuning(self, dead_zone: float, sensitivity: float) -> None:
        """Apply to every device now and remember for this user."""
        if self.store is not None:
            self.store.set_preference(self.user, "joystick.tuning", [dead_zone, sensitivity])
        for _, mapper in self.devices:
            mapper.dead_zone, mapper.sensitivity = dead_zone, sensitivity

    def _apply_saved(self) -> None:
        if self.store is not None and self.store.preference(self.user, "joystick.tuning") is not None:
            self.set_tuning(*self.tuning())

    def poll(self) -> None:
        assert self._pygame is not None
        self._pygame.event.pump()
        for stick, mapper in self.devices:
            mapper.axes([stick.get_axis(i) for i in range(stick.get_numaxes())])
            for button in range(stick.get_numbuttons()):
                mapper.button(button, bool(stick.get_button(button)))

    def stop(self) -> None:
        self._timer.stop()
        if self._pygame is not None:
            self._pygame.joystick.quit()
