"""The push channel (`/api/v1/ws`): events and camera status arrive here and leave as Qt signals.

It reconnects by itself with backoff (a server restart is a pause, not an error dialog) and refreshes the
access token when the server refuses the old one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import aiohttp
from PySide6.QtCore import QObject, Signal

from vms_desktop.client.api import ClientError, SessionExpired, VmsClient, retry_delays

logger = logging.getLogger(__name__)


class HubClient(QObject):
    sig_message = Signal(str, dict)  # kind, data
    sig_connected = Signal(bool)
    sig_session_expired = Signal(str)

    def __init__(self, client: VmsClient, prefixes: list[str] | None = None) -> None:
        super().__init__()
        self.client = client
        self.prefixes = prefixes or ["event.", "camera.", "incident.", "ticket."]
        self.connected = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _set_connected(self, value: bool) -> None:
        if value != self.connected:
            self.connected = value
            self.sig_connected.emit(value)

    async def _run(self) -> None:
        delays = retry_delays()
        while True:
            try:
                await self._session()
                delays = retry_delays()
            except SessionExpired as exc:
                self._set_connected(False)
                self.sig_session_expired.emit(exc.message)
                return
            except (aiohttp.ClientError, ClientError, OSError, TimeoutError) as exc:
                logger.info("push channel down (%s); retrying", exc)
            self._set_connected(False)
            await asyncio.sleep(next(delays))

    async def _session(self) -> None:
        await self.client.ensure_fresh()  # not an expired token after a restart: no 401 to answer first
        try:
            ws = await self.client.session.ws_connect(self.client.ws_url("/api/v1/ws"), heartbeat=20)
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 401:
                await self.client.refresh()
            raise
        async with ws:
            await ws.send_str(json.dumps({"subscribe": self.prefixes}))
            self._set_connected(True)
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                self._dispatch(msg.data)

    def _dispatch(self, raw: str) -> None:
        try:
            message: Any = json.loads(raw)
        except ValueError:
            return
        if isinstance(message, dict) and isinstance(message.get("data"), dict):
            self.sig_message.emit(str(message.get("type", "")), message["data"])
