"""Responses that last as long as the client wants them (the event socket, live video, fMP4 playback).

aiohttp stops accepting connections on SIGTERM and then waits up to `server.shutdown_timeout` for handlers to
return: a watched camera kept the server alive for the whole timeout and longer. Handlers register their
long-lived responses here, and the app's shutdown signal closes them at once: sockets with 1001 "going away"
(clients reconnect to the restarted server), streams by cancelling their handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

from aiohttp import WSCloseCode, web

from vms_server.api.keys import STREAMS

logger = logging.getLogger(__name__)


class OpenStreams:
    def __init__(self) -> None:
        self._sockets: set[web.WebSocketResponse] = set()
        self._tasks: set[asyncio.Task[object]] = set()
        self.closing = False

    @contextlib.contextmanager
    def socket(self, ws: web.WebSocketResponse) -> Iterator[None]:
        self._sockets.add(ws)
        try:
            yield
        finally:
            self._sockets.discard(ws)

    @contextlib.contextmanager
    def stream(self) -> Iterator[None]:
        """Around a streamed response; the calling handler's task is cancelled at shutdown."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._tasks.discard(task)

    @property
    def count(self) -> int:
        return len(self._sockets) + len(self._tasks)

    async def close_all(self) -> None:
        self.closing = True
        if self.count:
            logger.info("closing %d client streams for shutdown", self.count)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
                               for ws in list(self._sockets)), return_exceptions=True)


async def close_streams(app: web.Application) -> None:
    """`app.on_shutdown`: runs before aiohttp waits for the handlers to return."""
    await app[STREAMS].close_all()
