"""`vms-desktop`: the operator client. Qt and asyncio share one loop (qasync)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vms_desktop.client.api import ClientError, VmsClient, normalise_address

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from vms_desktop.client.discovery import ServerBrowser
    from vms_desktop.login.dialogs.login_dialog import LoginDialog
    from vms_desktop.main_window import MainWindow

logger = logging.getLogger(__name__)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vms-desktop", description="VMS operator client")
    parser.add_argument("--server", help="server address (host:port, https://host:port, or http://host:port for a "
                                         "server with TLS off), pre-filled in the login dialog; without a scheme "
                                         "https")
    parser.add_argument("--pin", metavar="SHA256",
                        help="trust the --server's certificate with this SHA-256 fingerprint (what `vms-server tls "
                             "fingerprint` prints) without asking: for scripted installs")
    parser.add_argument("--forget-pin", action="store_true",
                        help="forget the certificate pinned for --server (after the server's certificate was "
                             "replaced on purpose); the next login shows the new one to confirm")
    parser.add_argument("--state", type=Path, help="file for local layouts and preferences")
    parser.add_argument("--joysticks", type=Path, help="directory of your own joystick JSON descriptions")
    parser.add_argument("--no-discovery", action="store_true", help="do not look for servers on the LAN")
    parser.add_argument("--theme", default=os.environ.get("VMS_THEME", "dark"),
                        help="look of the client: dark (control room, default), light, or none (Qt's own)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if (args.pin or args.forget_pin) and not args.server:
        parser.error("--pin and --forget-pin need --server")
    try:
        seed_pin(args)
    except ClientError as exc:
        parser.error(exc.message)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def seed_pin(args: argparse.Namespace) -> None:
    """Apply --pin / --forget-pin to the stored pins (a pin only makes sense over TLS); `args.server` is
    rewritten to the full address the pin is stored under."""
    if not (args.pin or args.forget_pin):
        return
    from vms_desktop.client.tls import PinStore

    base = normalise_address(args.server)
    if not base.startswith("https://"):
        raise ValueError(f"--pin/--forget-pin are for https:// servers, not {base}")
    pins = PinStore()
    if args.forget_pin:
        pins.forget(base)
    if args.pin:
        pins.set(base, args.pin)
    args.server = base


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


async def _log_in(dialog: LoginDialog, browser: ServerBrowser | None, *, resume: bool = True) -> VmsClient | None:
    """The remembered session, or the one the operator logs in with; None when the dialog is cancelled."""
    from PySide6.QtWidgets import QDialog

    try:
        resumed = await dialog.try_resume() if resume else None
        if resumed is not None:
            return resumed
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        dialog.finished.connect(lambda code: _resolve(done, code))
        dialog.show()
        if await done != QDialog.DialogCode.Accepted:
            return None
        return dialog.client
    finally:
        if browser is not None:
            await browser.close()


async def _run(args: argparse.Namespace) -> int:
    """The whole session: log in, then the main window until the last window is closed.

    This coroutine, not Qt, decides when the application ends. With Qt's default (quit when the last
    window closes) closing the login dialog quit Qt before the main window existed, which stopped the
    asyncio loop under this coroutine (issue #17); closing the main window would likewise stop the loop
    before `shutdown` ran. So automatic quitting stays off for the whole session: `lastWindowClosed`
    only resolves a future here, and returning from this coroutine is what stops the loop.
    """
    from PySide6.QtWidgets import QApplication

    from vms_desktop.client.credentials import CredentialStore
    from vms_desktop.client.discovery import ServerBrowser
    from vms_desktop.login.dialogs.login_dialog import LoginDialog
    from vms_desktop.main_window import MainWindow
    from vms_desktop.store import LocalStore

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    dialog = LoginDialog(CredentialStore())
    if args.server:
        dialog.server.setEditText(args.server)
    browser = None if args.no_discovery else ServerBrowser(dialog.add_found_server)
    if browser is not None:
        with contextlib.suppress(OSError):
            await browser.start()
    client = await _log_in(dialog, browser)
    store = LocalStore(args.state)
    while True:
        if client is None:
            logger.info("login cancelled; exiting")
            return 1
        window = MainWindow(client, store)
        code = await run_window(app, window, args.joysticks)
        if code != SESSION_EXPIRED:
            return code
        # The server refused the session (revoked, expired, the user disabled): back to the login dialog,
        # saying why, with the server and user filled in. The remembered token is the refused one.
        await client.close()
        CredentialStore().forget(client.base_url, client.username)
        dialog = LoginDialog(CredentialStore())
        dialog.server.setEditText(client.base_url)
        dialog.username.setText(client.username)
        dialog.say(f"{window.expired_message[:1].upper()}{window.expired_message[1:]}.")
        client = await _log_in(dialog, None, resume=False)


QUIT_SIGNALS = (signal.SIGTERM, signal.SIGINT)
SESSION_EXPIRED = 3  # run_window's result when the server ended the session: log in again


def install_quit_signals(loop: asyncio.AbstractEventLoop, quit_: Callable[[], None]) -> Callable[[], None]:
    """SIGTERM and SIGINT end the session through `quit_` on the loop (the same path as closing the window,
    so feeds stop and the tokens stay valid). Installed after the joysticks, and SDL is told to keep out
    (`SDL_NO_SIGNAL_HANDLERS`): SDL's own handlers swallowed SIGTERM and the client ignored it for 20 s.

    Returns the function that puts back what was there before, whichever way each handler went in: the
    loop's `remove_signal_handler` only undoes `add_signal_handler` (and leaves the default handler, not
    the previous one), so the `signal.signal` fallback used to stay behind after the session (calling into
    a closed loop) on Windows."""
    def on_signal(signum: int) -> None:
        logger.info("%s received: stopping", signal.Signals(signum).name)
        quit_()

    def from_signal_module(signum: int, _frame: object) -> None:
        loop.call_soon_threadsafe(on_signal, signum)

    undo: list[Callable[[], object]] = []
    for signum in QUIT_SIGNALS:
        previous = signal.getsignal(signum)
        put_back = functools.partial(signal.signal, signum, previous if previous is not None else signal.SIG_DFL)
        if _loop_handles(loop, signum, on_signal):
            # remove_signal_handler leaves SIG_DFL (SIGINT: KeyboardInterrupt), not what was there.
            undo.extend([put_back, functools.partial(loop.remove_signal_handler, signum)])
            continue
        # signal.signal is the fallback on the main thread; off it Python refuses too, and closing the window
        # stays the way out.
        try:
            signal.signal(signum, from_signal_module)
        except ValueError:
            logger.debug("%s cannot be handled from this thread", signal.Signals(signum).name)
            continue
        undo.append(put_back)

    def restore() -> None:
        for step in reversed(undo):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                step()
        undo.clear()

    return restore


def _loop_handles(loop: asyncio.AbstractEventLoop, signum: int, handler: Callable[[int], None]) -> bool:
    """Whether the loop took the signal. It cannot on Windows (NotImplementedError), off the main thread
    (RuntimeError from set_wakeup_fd) or for a signal it refuses (ValueError)."""
    try:
        loop.add_signal_handler(signum, handler, signum)
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True


async def run_window(app: QApplication, window: MainWindow, joysticks_dir: Path | None) -> int:
    """The logged-in part of the session: the main window until it is closed or a signal ends it."""
    from vms_desktop.joystick.sdl import SdlJoysticks

    joysticks = SdlJoysticks(window.commands, joysticks_dir, window.store, window.user)
    joysticks.start()
    window.joysticks = joysticks
    loop = asyncio.get_running_loop()
    closed: asyncio.Future[None] = loop.create_future()
    app.lastWindowClosed.connect(lambda: _resolve(closed, None))

    def quit_() -> None:
        window.close()
        _resolve(closed, None)

    window.sig_session_expired.connect(lambda _message: quit_())
    restore_signals = install_quit_signals(loop, quit_)
    try:
        window.show_initial()
        loading = asyncio.ensure_future(window.load())
        await asyncio.wait([loading, closed], return_when=asyncio.FIRST_COMPLETED)
        if closed.done() and not loading.done():
            loading.cancel()  # a signal during a slow load (server away) must not wait for it
        await asyncio.gather(loading, return_exceptions=True)
        if loading.done() and not loading.cancelled() and loading.exception() is not None:
            raise loading.exception()  # type: ignore[misc]
        await closed
        joysticks.stop()
        await window.shutdown()
    finally:
        restore_signals()  # in-process callers get their own handlers back, whichever way ours went in
    return SESSION_EXPIRED if window.expired_message else 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from PySide6.QtWidgets import QApplication

    from vms_desktop.qt_loop import QtLoop

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("VMS Desktop")
    if args.theme != "none":
        from vms_desktop.ui_theme import apply_theme

        apply_theme(app, args.theme)
    loop = QtLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        return int(loop.run_until_complete(_run(args)))


if __name__ == "__main__":
    sys.exit(main())
