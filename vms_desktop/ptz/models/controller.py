"""PTZ commands for the selected camera, fed by action ids from any input.

Continuous moves are coalesced: while one request is in flight only the newest wanted velocity is kept,
so a joystick producing 60 updates a second never queues seconds of stale moves on a slow link. Every move
carries a short server-side timeout as a dead-man switch, refreshed while the stick is held.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from vms_desktop.actions import ActionId, ActionManager
from vms_desktop.client.api import ClientError, VmsClient

logger = logging.getLogger(__name__)
Vector = tuple[float, float, float]
_KEY_VECTORS: dict[ActionId, Vector] = {
    ActionId.PTZ_LEFT: (-1.0, 0.0, 0.0), ActionId.PTZ_RIGHT: (1.0, 0.0, 0.0),
    ActionId.PTZ_UP: (0.0, 1.0, 0.0), ActionId.PTZ_DOWN: (0.0, -1.0, 0.0),
    ActionId.PTZ_ZOOM_IN: (0.0, 0.0, 1.0), ActionId.PTZ_ZOOM_OUT: (0.0, 0.0, -1.0),
}
MOVE_TIMEOUT_S = 2.0
KEY_SPEED = 0.6


class PtzController(QObject):
    sig_presets = Signal(list)  # [{"token", "name"}]
    sig_error = Signal(str)
    sig_moved = Signal(tuple)  # the velocity last sent

    def __init__(self, client: VmsClient, commands: ActionManager) -> None:
        super().__init__()
        self.client = client
        self.camera_id: str | None = None
        self.presets: list[dict[str, Any]] = []
        self._wanted: Vector = (0.0, 0.0, 0.0)
        self._sent: Vector | None = None
        self._inflight = False
        self._keys: set[ActionId] = set()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._keepalive = QTimer(self)
        self._keepalive.setInterval(int(MOVE_TIMEOUT_S * 500))
        self._keepalive.timeout.connect(self._refresh_move)
        commands.on(ActionId.PTZ_MOVE, self._on_move)
        commands.on(ActionId.PTZ_STOP, self._on_stop)
        commands.on(ActionId.PTZ_PRESET_GO, self._on_preset)
        for action in _KEY_VECTORS:
            commands.on(action, functools.partial(self._on_key, action))

    def _on_stop(self, _: object = None) -> None:
        self.move((0.0, 0.0, 0.0))

    def _spawn(self, coro: Any) -> asyncio.Future[Any]:
        task: asyncio.Future[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def set_camera(self, camera_id: str | None) -> None:
        if camera_id == self.camera_id:
            return
        if self.camera_id is not None and self._sent and any(self._sent):
            self.move((0.0, 0.0, 0.0))
        self.camera_id = camera_id
        self.presets = []
        self.sig_presets.emit([])
        if camera_id is not None:
            self._spawn(self.load_presets())

    # --- moves -----------------------------------------------------------------------------------

    def _on_move(self, value: object) -> None:
        if isinstance(value, tuple | list) and len(value) == 3:
            self.move((float(value[0]), float(value[1]), float(value[2])))

    def _on_key(self, action: ActionId, pressed: object) -> None:
        if pressed:
            self._keys.add(action)
        else:
            self._keys.discard(action)
        pan = sum(_KEY_VECTORS[a][0] for a in self._keys) * KEY_SPEED
        tilt = sum(_KEY_VECTORS[a][1] for a in self._keys) * KEY_SPEED
        zoom = sum(_KEY_VECTORS[a][2] for a in self._keys) * KEY_SPEED
        self.move((pan, tilt, zoom))

    def move(self, velocity: Vector) -> None:
        """Ask for this velocity (all zero stops). Never blocks; the newest request wins."""
        self._wanted = tuple(max(-1.0, min(1.0, round(v, 3))) for v in velocity)  # type: ignore[assignment]
        if any(self._wanted):
            self._keepalive.start()
        else:
            self._keepalive.stop()
        if not self._inflight:
            self._spawn(self._pump())

    def _refresh_move(self) -> None:
        self._sent = None  # re-send the same velocity before the server-side timeout stops the head
        if not self._inflight:
            self._spawn(self._pump())

    async def _pump(self) -> None:
        self._inflight = True
        try:
            while self.camera_id is not None and self._wanted != self._sent:
                wanted = self._wanted
                base = f"/api/v1/cameras/{self.camera_id}/ptz"
                try:
                    if any(wanted):
                        await self.client.request("POST", base + "/move", {
                            "pan": wanted[0], "tilt": wanted[1], "zoom": wanted[2], "timeout_s": MOVE_TIMEOUT_S})
                    else:
                        await self.client.request("POST", base + "/stop")
                except ClientError as exc:
                    self.sig_error.emit(exc.message)
                    self._sent = wanted
                    break
                self._sent = wanted
                self.sig_moved.emit(wanted)
        finally:
            self._inflight = False

    # --- presets and tours -----------------------------------------------------------------------

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        if self.camera_id is None:
            self.sig_error.emit("select a PTZ camera first")
            return None
        try:
            return await self.client.request(method, f"/api/v1/cameras/{self.camera_id}/ptz{path}", body)
        except ClientError as exc:
            self.sig_error.emit(exc.message)
            return None

    async def load_presets(self) -> None:
        data = await self._call("GET", "/presets")
        self.presets = list(data["items"]) if data else []
        self.sig_presets.emit(self.presets)

    def _on_preset(self, value: object) -> None:
        token = value
        if isinstance(value, int) and 1 <= value <= len(self.presets):
            token = self.presets[value - 1]["token"]
        if isinstance(token, str):
            self._spawn(self.goto_preset(token))

    async def goto_preset(self, token: str) -> None:
        await self._call("POST", f"/presets/{token}/goto")

    async def save_preset(self, name: str) -> None:
        if await self._call("POST", "/presets", {"name": name}) is not None:
            await self.load_presets()

    async def delete_preset(self, token: str) -> None:
        await self._call("DELETE", f"/presets/{token}")
        await self.load_presets()

    async def start_tour(self, name: str) -> None:
        await self._call("POST", f"/tours/{name}/start")

    async def stop_tour(self, name: str) -> None:
        await self._call("POST", f"/tours/{name}/stop")

    async def close(self) -> None:
        self._keepalive.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
