"""Alarm sounds: while any event of a ringing priority is NEW (not acknowledged), the sound of the most
urgent one loops; acknowledging (or closing) the last one stops it. An operator may mute the sounds for
their shift (a local preference per user, kept across restarts of the client).

An alarm on hold (its ticket ON_HOLD, set from any console: see alarms/models/states.py) is silent until its
hold ends, then rings again while it is still NEW; the holds are the server's, so every console agrees, and
so is the clock they are compared with (`now`: the server's time as this console knows it).

The sounds are the WAV files of `ui/sounds` (not the system beep, which a control room PC often has off)
played with QSoundEffect when QtMultimedia is installed (it is in PySide6-Addons, not in the Essentials
wheel the client requires); without it the sounder still keeps its state (what would ring, shown in the
alarm bar) and logs once that it cannot play.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, QTimer, QUrl, Signal

from vms_desktop.ui_theme import sound_path

logger = logging.getLogger(__name__)
RING_ORDER = ("CRITICAL", "HIGH", "MEDIUM")  # most urgent first; LOW never rings
MUTE_KEY = "alarms.muted"


class Player(Protocol):
    def play(self, path: Path) -> None: ...

    def stop(self) -> None: ...


class SoundEffectPlayer:
    """Loops one WAV with QSoundEffect until stopped."""

    def __init__(self) -> None:
        from PySide6.QtMultimedia import QSoundEffect  # only when QtMultimedia is installed

        self._effect = QSoundEffect()
        self._loop_forever = QSoundEffect.Loop.Infinite.value
        self._source: Path | None = None

    def play(self, path: Path) -> None:
        if path != self._source:
            self._effect.stop()
            self._effect.setSource(QUrl.fromLocalFile(str(path)))
            self._source = path
        self._effect.setLoopCount(self._loop_forever)
        if not self._effect.isPlaying():
            self._effect.play()

    def stop(self) -> None:
        self._effect.stop()


class SilentPlayer:
    """Stands in when QtMultimedia is missing: remembers what it was asked to play."""

    def __init__(self) -> None:
        self.playing: Path | None = None

    def play(self, path: Path) -> None:
        self.playing = path

    def stop(self) -> None:
        self.playing = None


def default_player() -> Player:
    try:
        return SoundEffectPlayer()
    except ImportError:
        logger.warning("QtMultimedia is not installed (pip install PySide6-Addons): alarm sounds are silent")
        return SilentPlayer()


class AlarmSounder(QObject):
    sig_changed = Signal()  # what rings changed (priority, count or mute)

    def __init__(self, player: Player | None = None, muted: bool = False,
                 now: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.now = now  # the clock holds are compared with: the server's, as the alarm feature passes it
        self.player = player or default_player()
        self.muted = muted
        self.ringing: dict[str, str] = {}  # event id -> priority, NEW events of a ringing priority
        self.sounding: str = ""  # the priority whose sound is playing now ("" when none, or muted)
        self.snoozed: dict[str, float] = {}  # event id -> epoch second it rings again (its hold ends)
        self._holds: dict[str, float] = {}  # every hold known, ringing or not (an event may turn NEW later)
        self._wake = QTimer(self)
        self._wake.setSingleShot(True)
        self._wake.timeout.connect(self._update)

    @property
    def priority(self) -> str:
        """The most urgent priority ringing now (events on hold aside), or ""."""
        now = self.now()
        audible = {p for event_id, p in self.ringing.items() if self.snoozed.get(event_id, 0) <= now}
        return next((p for p in RING_ORDER if p in audible), "")

    def set_holds(self, holds: dict[str, float]) -> None:
        """The alarms on hold (event id -> epoch second the hold ends), as the server says: each is silent until
        then, and rings again afterwards if nobody acknowledged it."""
        self._holds = dict(holds)
        self._update()

    def observe(self, event: dict[str, Any]) -> None:
        """An event as created or updated: rings while it is NEW, stops once it is anything else."""
        event_id = str(event.get("id", ""))
        priority = str(event.get("priority", "")).upper()
        if not event_id:
            return
        if event.get("status") == "NEW" and priority in RING_ORDER and sound_path(priority) is not None:
            self.ringing[event_id] = priority
        else:
            self.ringing.pop(event_id, None)
        self._update()

    def forget(self, event_id: str) -> None:
        self.ringing.pop(event_id, None)
        self._update()

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        self._update()

    def _update(self) -> None:
        now = self.now()
        self.snoozed = {k: t for k, t in self._holds.items() if t > now and k in self.ringing}
        if self.snoozed:  # wake when the first hold ends
            self._wake.start(max(1, int((min(self.snoozed.values()) - now) * 1000) + 1))
        wanted = "" if self.muted else self.priority
        if wanted != self.sounding:
            path = sound_path(wanted) if wanted else None
            if path is None:
                self.player.stop()
                wanted = ""
            else:
                self.player.play(path)
            logger.info("alarm sound: %s (%d event(s) waiting)", wanted or "off", len(self.ringing))
            self.sounding = wanted
        self.sig_changed.emit()

    def stop(self) -> None:
        self._wake.stop()
        self.player.stop()
        self.sounding = ""
