"""Live view of one camera stream over the server's WebSocket (contract 1), into a FrameSink.

Binary message: 8-byte big-endian signed wall-clock microseconds, 1 flags byte (bit 0 = keyframe), then one
encoded access unit. Text messages describe the stream or say why there is no picture. The feed reconnects
by itself; every state change reaches the tile as (state, message) so it can say why it is black.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
from typing import Any

import aiohttp
from PySide6.QtCore import QObject, Signal

from vms_desktop.client.api import RESTARTING_STATUSES, ClientError, SessionExpired, VmsClient, retry_delays
from vms_desktop.video.decoder import DecodeWorker, Probe
from vms_desktop.video.frames import FrameSink
from vms_desktop.video.messages import CERTIFICATE_CHANGED, redact

logger = logging.getLogger(__name__)
HEADER = struct.Struct(">qB")

_HANDSHAKE_STATES = {401: ("unauthorised", "not logged in or the session expired"),
                     403: ("unauthorised", "you are not allowed to view this camera"),
                     404: ("offline", "the server does not know this camera (or has no live view yet)")}


def parse_media(data: bytes) -> tuple[int, bool, bytes]:
    """Split a binary live message into (timestamp_us, keyframe, access unit). Raises ValueError."""
    if len(data) <= HEADER.size:
        raise ValueError("live message shorter than its header")
    timestamp_us, flags = HEADER.unpack_from(data)
    return timestamp_us, bool(flags & 1), data[HEADER.size:]


class LiveFeed(QObject):
    sig_status = Signal(str, str)  # state, message ("playing" once pictures flow)
    sig_stream = Signal(dict)  # the stream description message

    def __init__(self, client: VmsClient, camera_id: str, stream: str, sink: FrameSink) -> None:
        super().__init__()
        self.client = client
        self.camera_id = camera_id
        self.stream = stream
        self.sink = sink
        self.info: dict[str, Any] = {}
        self.state = "connecting"
        self.probe: Probe | None = None
        self._target = (0, 0)
        self._worker: DecodeWorker | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._stop_worker()

    def set_target_size(self, width: int, height: int) -> None:
        self._target = (width, height)
        if self._worker is not None:
            self._worker.set_target_size(width, height)

    def _set_state(self, state: str, message: str = "") -> None:
        self.state = state
        self.sig_status.emit(state, message)

    def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()

    async def _run(self) -> None:
        delays = retry_delays()
        refreshed = False  # a 401 is answered with one token refresh before the tile says "Not authorised"
        while True:
            self._set_state("connecting", "connecting to the server")
            try:
                if await self._session():
                    delays, refreshed = retry_delays(), False
            except aiohttp.WSServerHandshakeError as exc:
                # Never str(exc): it holds the URL with the access token.
                logger.debug("live view of camera %s refused: HTTP %s", self.camera_id, exc.status)
                if exc.status == 401 and not refreshed:
                    refreshed = True
                    if await self._refresh():
                        continue  # at once, with the new token
                elif exc.status in RESTARTING_STATUSES:
                    self._set_state("unreachable", "the server is restarting; retrying")
                else:
                    state, message = _HANDSHAKE_STATES.get(
                        exc.status, ("error", f"the server could not start the live view (HTTP {exc.status})"))
                    self._set_state(state, message)
            except SessionExpired as exc:
                self._set_state("unauthorised", exc.message)
            except aiohttp.ServerFingerprintMismatch:  # asked again, but never accepted while it differs
                logger.warning("live view of camera %s: the server's certificate is not the pinned one",
                               self.camera_id)
                self._set_state("unreachable", CERTIFICATE_CHANGED)
            except (aiohttp.ClientError, ClientError, OSError, TimeoutError) as exc:
                logger.debug("live view of camera %s: %s", self.camera_id, redact(repr(exc)))
                self._set_state("unreachable", "retrying")
            self._stop_worker()
            await asyncio.sleep(next(delays))

    async def _refresh(self) -> bool:
        """Right after a server restart the old access token may be refused once: refresh it rather than
        tell the operator "Not authorised" (the tiles said so for 5-10 s after every restart)."""
        try:
            await self.client.refresh()
        except SessionExpired as exc:
            self._set_state("unauthorised", exc.message)
            return False
        except ClientError:
            self._set_state("unreachable", "retrying")
            return False
        return True

    async def _session(self) -> bool:
        await self.client.ensure_fresh()  # the socket may have outlived the token (a reconnect after a restart)
        url = self.client.ws_url(f"/api/v1/cameras/{self.camera_id}/live/ws", {"stream": self.stream})
        got_media = False
        async with self.client.session.ws_connect(url, heartbeat=15, max_msg_size=32 * 1024 * 1024) as ws:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    got_media = self._media(msg.data) or got_media
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    self._text(msg.data)
        if self.state == "playing":
            self._set_state("offline", "the live stream ended; reconnecting")
        return got_media

    def _text(self, raw: str) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        kind = message.get("type")
        if kind == "stream":
            self.info = message
            self._stop_worker()
            try:
                self._worker = DecodeWorker(str(message.get("codec", "")), self.sink, self.camera_id)
            except ValueError as exc:
                self._set_state("unsupported", str(exc))
                return
            self._worker.probe = self.probe
            if self._target[0]:
                self._worker.set_target_size(*self._target)
            self.sig_stream.emit(message)
        elif kind == "status":
            self._stop_worker()
            self._set_state(str(message.get("state", "offline")), str(message.get("message", "")))

    def _media(self, data: bytes) -> bool:
        if self._worker is None:
            return False
        try:
            timestamp_us, keyframe, unit = parse_media(data)
        except ValueError:
            return False
        if self.state != "playing":
            self._set_state("playing", "")
        self._worker.submit(timestamp_us, keyframe, unit)
        return True
