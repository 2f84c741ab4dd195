"""Helpers of the administration tests: a running server with simulator cameras, and pressing a dialog's OK."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox

from tests.desktop.conftest import Desk, sim_config, start_desk, wait_until
from vms_camsim.handle import SimulatorHandle
from vms_desktop.admin.dialogs.form_dialog import FormDialog

LIMIT_S = 30  # generous: server, simulator and widgets share one loop on a loaded machine


@contextlib.asynccontextmanager
async def running_desk(settings: Any, aiohttp_client: Any, names: list[str]) -> AsyncIterator[Desk]:
    async with SimulatorHandle.start(sim_config(names)) as sim:
        desk = await start_desk(settings, aiohttp_client, sim)
        try:
            yield desk
        finally:
            await desk.client.close()


async def press_ok(dialog: FormDialog) -> None:
    """Click OK and wait until the dialog closed (saved) or says why not."""
    dialog.message.show_text("")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    await wait_until(lambda: dialog.result() == QDialog.DialogCode.Accepted or dialog.message.is_error, LIMIT_S,
                     "the dialog saved or showed the refusal")
    await dialog.runner.drain()
