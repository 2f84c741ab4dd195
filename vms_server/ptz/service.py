"""PTZ on behalf of operators: finds the camera's ONVIF address and sealed credentials, keeps one ONVIF
client per camera, and runs preset tours as server-side tasks (so a tour survives the operator closing
the client)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_common.aio import cancel_and_wait
from vms_common.auth.principal import Principal
from vms_common.errors import Conflict, InvalidInput, NotFound
from vms_server.cameras.service import get_camera
from vms_server.ptz.device import PtzDevice
from vms_server.ptz.imaging import ImagingDevice
from vms_server.ptz.schemas import PresetOut, PtzMove, PtzStatus, TourState
from vms_server.security.keystore import SecretBox

logger = logging.getLogger(__name__)


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass
class _Tour:
    name: str
    presets: list[str]
    task: asyncio.Task[None]


class PtzService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessions = sessions
        self._box = box
        self._devices: dict[uuid.UUID, tuple[str, PtzDevice]] = {}
        self._tours: dict[uuid.UUID, _Tour] = {}
        self._imaging: dict[uuid.UUID, tuple[str, ImagingDevice]] = {}
        # Told of every operator command that steers a head (auto-tracking yields to the operator).
        self.operator_listeners: list[Callable[[uuid.UUID], None]] = []

    async def access(self, camera_id: uuid.UUID, who: Principal, ptz: bool) -> tuple[str, str, str | None, str | None]:
        """(fingerprint, ONVIF URL, user, password) of a camera the caller may see. Raises NotFound or Conflict."""
        async with self._sessions() as session:
            camera = await get_camera(session, camera_id, who)
            if ptz and not camera.ptz:
                raise Conflict("this camera is not configured as a PTZ camera")
            if not camera.onvif_url:
                raise Conflict("this camera has no ONVIF address, so it cannot be steered or adjusted")
            password = self._box.open(camera.secret_sealed) if camera.secret_sealed else None
            return f"{camera.onvif_url}|{camera.username}|{camera.secret_sealed}", camera.onvif_url, \
                camera.username, password

    async def device(self, camera_id: uuid.UUID, who: Principal) -> PtzDevice:
        """The camera's PTZ head, after checking the caller may see it. Raises NotFound or Conflict."""
        fingerprint, url, username, password = await self.access(camera_id, who, ptz=True)
        cached = self._devices.get(camera_id)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        if cached is not None:
            await cached[1].close()
        device = PtzDevice(url, username, password)
        self._devices[camera_id] = (fingerprint, device)
        return device

    async def imaging(self, camera_id: uuid.UUID, who: Principal) -> ImagingDevice:
        """The camera's imaging service (any ONVIF camera), after the same checks. Raises NotFound or Conflict."""
        fingerprint, url, username, password = await self.access(camera_id, who, ptz=False)
        cached = self._imaging.get(camera_id)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        if cached is not None:
            await cached[1].close()
        device = ImagingDevice(url, username, password)
        self._imaging[camera_id] = (fingerprint, device)
        return device

    async def move(self, camera_id: uuid.UUID, who: Principal, move: PtzMove) -> None:
        device = await self.device(camera_id, who)
        self._cancel_tour(camera_id)
        self._operator(camera_id)
        await device.continuous_move(move.pan, move.tilt, move.zoom, move.timeout_s)

    async def stop(self, camera_id: uuid.UUID, who: Principal) -> None:
        device = await self.device(camera_id, who)
        self._cancel_tour(camera_id)
        self._operator(camera_id)
        await device.call("Stop", PanTilt=True, Zoom=True)

    async def status(self, camera_id: uuid.UUID, who: Principal) -> PtzStatus:
        device = await self.device(camera_id, who)
        status = await device.call("GetStatus")
        position, moves = getattr(status, "Position", None), getattr(status, "MoveStatus", None)
        pan_tilt = getattr(position, "PanTilt", None)
        zoom = getattr(position, "Zoom", None)
        tour = self._tours.get(camera_id)
        pan, tilt, zoom_x = device.normalised(_num(getattr(pan_tilt, "x", None)), _num(getattr(pan_tilt, "y", None)),
                                              _num(getattr(zoom, "x", None)), _str(getattr(pan_tilt, "space", None)),
                                              _str(getattr(zoom, "space", None)))
        return PtzStatus(
            pan=pan, tilt=tilt, zoom=zoom_x,
            pan_tilt_moving=str(getattr(moves, "PanTilt", "IDLE")) == "MOVING",
            zoom_moving=str(getattr(moves, "Zoom", "IDLE")) == "MOVING",
            tour=tour.name if tour is not None and not tour.task.done() else None,
        )

    async def aux_commands(self, camera_id: uuid.UUID, who: Principal) -> list[str]:
        return list(await (await self.device(camera_id, who)).aux_commands())

    async def send_aux(self, camera_id: uuid.UUID, who: Principal, command: str) -> str:
        """Send one of the node's auxiliary commands (wiper, IR lamp...). Raises InvalidInput for
        a command the camera does not offer, before asking it."""
        device = await self.device(camera_id, who)
        offered = await device.aux_commands()
        if command not in offered:
            raise InvalidInput(f"the camera does not offer {command!r} (it offers {', '.join(offered) or 'none'})")
        answer = await device.call("SendAuxiliaryCommand", AuxiliaryData=command)
        return str(answer) if answer is not None else ""

    async def presets(self, camera_id: uuid.UUID, who: Principal) -> list[PresetOut]:
        device = await self.device(camera_id, who)
        return [PresetOut(token=str(p.token), name=str(getattr(p, "Name", None) or p.token))
                for p in (await device.call("GetPresets") or [])]

    async def save_preset(self, camera_id: uuid.UUID, who: Principal, name: str) -> PresetOut:
        device = await self.device(camera_id, who)
        token = await device.call("SetPreset", PresetName=name)
        return PresetOut(token=str(token), name=name)

    async def goto_preset(self, camera_id: uuid.UUID, who: Principal, token: str) -> None:
        device = await self.device(camera_id, who)
        self._cancel_tour(camera_id)
        self._operator(camera_id)
        await self._goto(device, camera_id, token)

    async def _goto(self, device: PtzDevice, camera_id: uuid.UUID, token: str) -> None:
        await device.call("GotoPreset", PresetToken=token)
        logger.info("PTZ preset %s", token, extra={"camera_id": str(camera_id)})

    async def delete_preset(self, camera_id: uuid.UUID, who: Principal, token: str) -> None:
        device = await self.device(camera_id, who)
        await device.call("RemovePreset", PresetToken=token)

    async def start_tour(self, camera_id: uuid.UUID, who: Principal, name: str, dwell_s: float) -> TourState:
        """Visit the presets whose name starts with `name` ('all': every preset), `dwell_s` at each, until
        stopped or a manual move. Raises Conflict when no preset belongs to the tour."""
        presets = await self.presets(camera_id, who)
        device = await self.device(camera_id, who)
        wanted = [p.token for p in presets
                  if name.lower() == "all" or p.name.lower().startswith(name.lower())]
        if not wanted:
            raise Conflict(f"no preset belongs to tour {name!r}: name presets '{name} 1', '{name} 2', ...")
        self._cancel_tour(camera_id)
        self._operator(camera_id)
        task = asyncio.create_task(self._run_tour(device, camera_id, wanted, dwell_s))
        self._tours[camera_id] = _Tour(name, wanted, task)
        return TourState(name=name, running=True, presets=wanted)

    async def stop_tour(self, camera_id: uuid.UUID, who: Principal, name: str) -> TourState:
        await self.device(camera_id, who)  # the same visibility checks as every other call
        tour = self._tours.get(camera_id)
        if tour is None or tour.name != name or tour.task.done():
            raise NotFound(f"tour {name!r} is not running on this camera")
        self._cancel_tour(camera_id)
        return TourState(name=name, running=False, presets=tour.presets)

    async def _run_tour(self, device: PtzDevice, camera_id: uuid.UUID, tokens: list[str], dwell_s: float) -> None:
        try:
            while True:
                for token in tokens:
                    await self._goto(device, camera_id, token)
                    await asyncio.sleep(dwell_s)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("PTZ tour stopped by an error", exc_info=True, extra={"camera_id": str(camera_id)})

    def _operator(self, camera_id: uuid.UUID) -> None:
        for listener in self.operator_listeners:
            listener(camera_id)

    def _cancel_tour(self, camera_id: uuid.UUID) -> None:
        tour = self._tours.pop(camera_id, None)
        if tour is not None:
            tour.task.cancel()

    async def close(self) -> None:
        for camera_id in list(self._tours):
            tour = self._tours.pop(camera_id)
            await cancel_and_wait([tour.task])
        for _, device in self._devices.values():
            await device.close()
        self._devices.clear()
        for _, imaging in self._imaging.values():
            await imaging.close()
        self._imaging.clear()
