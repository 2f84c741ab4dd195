"""`vms-desktop`: the operator client. Qt and asyncio share one loop (qasync)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from pathlib import Path
from typing import Any

from vms_desktop.client.api import VmsClient


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vms-desktop", description="VMS operator client")
    parser.add_argument("--server", help="server address (host:port), pre-filled in the login dialog")
    parser.add_argument("--state", type=Path, help="file for local layouts and preferences")
    parser.add_argument("--joysticks", type=Path, help="directory of your own joystick JSON descriptions")
    parser.add_argument("--no-discovery", action="store_true", help="do not look for servers on the LAN")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


async def _run(args: argparse.Namespace) -> int:
    from PySide6.QtWidgets import QApplication, QDialog

    from vms_desktop.client.credentials import CredentialStore
    from vms_desktop.client.discovery import ServerBrowser
    from vms_desktop.joystick.sdl import SdlJoysticks
    from vms_desktop.login.dialogs.login_dialog import LoginDialog
    from vms_desktop.main_window import MainWindow
    from vms_desktop.store import LocalStore

    dialog = LoginDialog(CredentialStore())
    if args.server:
        dialog.server.setEditText(args.server)
    browser = None if args.no_discovery else ServerBrowser(dialog.add_found_server)
    if browser is not None:
        with contextlib.suppress(OSError):
            await browser.start()
    client: VmsClient | None = await dialog.try_resume()
    if client is None:
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        dialog.finished.connect(lambda code: _resolve(done, code))
        dialog.show()
        if await done != QDialog.DialogCode.Accepted or dialog.client is None:
            return 1
        client = dialog.client
    if browser is not None:
        await browser.close()
    store = LocalStore(args.state)
    window = MainWindow(client, store)
    joysticks = SdlJoysticks(window.commands, args.joysticks, store, window.user)
    joysticks.start()
    window.joysticks = joysticks
    closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.lastWindowClosed.connect(lambda: _resolve(closed, None))
    window.show()
    await window.load()
    await closed
    joysticks.stop()
    await window.shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from PySide6.QtWidgets import QApplication

    from vms_desktop.qt_loop import QtLoop

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("VMS Desktop")
    loop = QtLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        return int(loop.run_until_complete(_run(args)))


if __name__ == "__main__":
    sys.exit(main())
