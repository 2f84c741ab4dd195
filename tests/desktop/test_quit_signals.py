"""`install_quit_signals` leaves the process as it found it (issue #26, review of defect 15).

On Windows the loop has no `add_signal_handler`, so the handlers go in through `signal.signal`; the session's
end only called `remove_signal_handler`, which undoes nothing of that, and the old handlers never came back.
A loop without signal support plays Windows' here. Off the main thread neither way works, and installing
must not raise (the old fallback did, from inside its except clause).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from vms_desktop.__main__ import QUIT_SIGNALS, install_quit_signals


class NoSignalsLoop:
    """Only what install_quit_signals touches, as on Windows: signal handlers are not implemented."""

    def __init__(self) -> None:
        self.calls: list[Callable[..., Any]] = []

    def add_signal_handler(self, *args: Any) -> None:
        raise NotImplementedError

    def remove_signal_handler(self, signum: int) -> bool:
        raise NotImplementedError

    def call_soon_threadsafe(self, callback: Callable[..., Any], *args: Any) -> None:
        self.calls.append(callback)
        callback(*args)


def _before(signum: int, frame: object) -> None:
    """The handler an in-process caller had before the session."""


@pytest.fixture
def own_handlers() -> Iterator[None]:
    saved = {signum: signal.getsignal(signum) for signum in QUIT_SIGNALS}
    for signum in QUIT_SIGNALS:
        signal.signal(signum, _before)
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_the_fallback_handlers_quit_and_are_put_back(own_handlers: None) -> None:
    quits: list[int] = []
    loop = NoSignalsLoop()
    restore = install_quit_signals(loop, lambda: quits.append(1))  # type: ignore[arg-type]
    installed = signal.getsignal(signal.SIGTERM)
    assert callable(installed) and installed is not _before
    installed(signal.SIGTERM, None)
    assert quits == [1] and loop.calls, "a signal quits through the loop"
    restore()
    assert [signal.getsignal(s) for s in QUIT_SIGNALS] == [_before, _before]


async def test_loop_handlers_are_removed_and_the_old_ones_stay(own_handlers: None) -> None:
    loop = asyncio.get_running_loop()
    restore = install_quit_signals(loop, lambda: None)
    try:
        assert signal.getsignal(signal.SIGTERM) is not _before  # the loop's wake-up handler
    finally:
        restore()
    assert not loop.remove_signal_handler(signal.SIGTERM), "already removed"
    assert [signal.getsignal(s) for s in QUIT_SIGNALS] == [_before, _before]


def test_off_the_main_thread_nothing_is_installed_and_nothing_raises(own_handlers: None) -> None:
    failures: list[BaseException] = []

    def install() -> None:
        try:
            install_quit_signals(NoSignalsLoop(), lambda: None)()  # type: ignore[arg-type]
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=install)
    thread.start()
    thread.join(10)
    assert failures == []
    assert [signal.getsignal(s) for s in QUIT_SIGNALS] == [_before, _before]
