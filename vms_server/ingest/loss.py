"""Packet loss of RTP over UDP, as FFmpeg's RTP demuxer reports it.

FFmpeg keeps its sequence-number accounting to itself and only logs "RTP: missed N packets". PyAV forwards
FFmpeg's log lines to Python logging synchronously on the thread that produced them, which is the stream's
ingest thread, so the count can be attributed to the right camera stream. Other FFmpeg lines are kept at
DEBUG (they are noisy and carry no camera context of their own).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable

import av.logging

logger = logging.getLogger(__name__)
_MISSED = re.compile(r"missed (\d+) packets")
_counters: dict[int, Callable[[int], None]] = {}
_installed = threading.Lock()
_done = [False]


class _LossHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        match = _MISSED.search(message)
        count = _counters.get(threading.get_ident())
        if match and count is not None:
            count(int(match.group(1)))
        elif logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: %s", record.name, message.strip())


def install() -> None:
    """Route FFmpeg warnings through the loss counter (once per process)."""
    with _installed:
        if _done[0]:
            return
        _done[0] = True
    av.logging.set_level(av.logging.WARNING)
    libav = logging.getLogger("libav")
    libav.addHandler(_LossHandler())
    libav.propagate = False


def count_for_this_thread(counter: Callable[[int], None] | None) -> None:
    """Attribute "missed packets" lines logged on the calling thread to `counter` (None: stop)."""
    if counter is None:
        _counters.pop(threading.get_ident(), None)
    else:
        _counters[threading.get_ident()] = counter
