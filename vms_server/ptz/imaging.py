"""A camera's ONVIF imaging service (brightness, IR cut filter, focus), reached with onvif-zeep-async.

Supervisors adjust a picture the way they steer a head, so imaging lives beside PTZ and shares its
error mapping: the camera's refusals are 502 (or 422 for a value outside what it offers), an
unreachable camera 503. Values are the camera's own (brightness in the range GetOptions gives).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field
from zeep.exceptions import Fault, TransportError

from vms_common.errors import Conflict, InvalidInput, NotReady
from vms_server.ptz.device import PtzFailed, _address

logger = logging.getLogger(__name__)


class ImagingState(BaseModel):
    """What the camera reports, with the ranges it accepts."""

    brightness: float | None = Field(description="In the camera's own range (brightness_range)")
    brightness_range: tuple[float, float] | None
    ir_cut_filter: str | None = Field(description="ON (day), OFF (night) or AUTO")
    ir_cut_filter_modes: list[str]
    focus_position: float | None
    focus_moving: bool


class ImagingIn(BaseModel):
    """Settings to change; omitted ones stay as they are."""

    model_config = ConfigDict(extra="forbid")
    brightness: float | None = Field(None, description="In the camera's brightness_range")
    ir_cut_filter: str | None = Field(None, pattern="^(ON|OFF|AUTO)$")


class FocusIn(BaseModel):
    """Continuous focus: -1 (near) .. 1 (far) at that fraction of full speed; 0 stops."""

    model_config = ConfigDict(extra="forbid")
    speed: float = Field(ge=-1, le=1)


class ImagingDevice:
    """The imaging service of one camera and the video source token it acts on, set up once."""

    def __init__(self, onvif_url: str, username: str | None, password: str | None) -> None:
        self.host, self.port = _address(onvif_url)
        self._username, self._password = username, password
        self._camera: Any = None
        self._imaging: Any = None
        self.source = ""
        self._lock = asyncio.Lock()

    async def _connect(self) -> Any:
        from onvif import ONVIFCamera

        async with self._lock:
            if self._imaging is not None:
                return self._imaging
            camera = ONVIFCamera(self.host, self.port, self._username, self._password)
            try:
                await camera.update_xaddrs()
                profiles = await (await camera.create_media_service()).GetProfiles()
                sources = [getattr(getattr(p, "VideoSourceConfiguration", None), "SourceToken", None)
                           for p in profiles or []]
                if not any(sources):
                    raise Conflict("the camera has no video source to adjust")
                self.source = str(next(s for s in sources if s))
                self._imaging = await camera.create_imaging_service()
            except BaseException:
                await camera.close()
                raise
            self._camera = camera
            return self._imaging

    async def call(self, operation: str, **params: Any) -> Any:
        """Run an imaging operation on the video source. Raises NotReady, PtzFailed or Conflict."""
        try:
            imaging = await self._connect()
            return await getattr(imaging, operation)({"VideoSourceToken": self.source, **params})
        except Fault as exc:
            raise PtzFailed(f"the camera refused {operation}: {exc.message or exc}") from None
        except (aiohttp.ClientError, TransportError, OSError, TimeoutError) as exc:
            await self.close()
            raise NotReady(f"the camera's ONVIF service at {self.host}:{self.port} is not reachable "
                           f"({type(exc).__name__})") from None
        except Exception as exc:  # onvif-zeep-async raises ONVIFError when the camera has no imaging service
            if "imaging" in str(exc).lower():
                raise Conflict("the camera offers no ONVIF imaging service") from None
            raise

    async def state(self) -> ImagingState:
        """Current settings, focus status and the ranges the camera offers."""
        settings = await self.call("GetImagingSettings")
        options = await self.call("GetOptions")
        try:
            status = await self.call("GetStatus")
        except PtzFailed:  # GetStatus is optional: no motorised focus
            status = None
        focus = getattr(status, "FocusStatus20", None)
        rng = getattr(options, "Brightness", None)
        return ImagingState(
            brightness=_float(getattr(settings, "Brightness", None)),
            brightness_range=None if rng is None else (float(rng.Min), float(rng.Max)),
            ir_cut_filter=_str(getattr(settings, "IrCutFilter", None)),
            ir_cut_filter_modes=[str(m) for m in getattr(options, "IrCutFilterModes", None) or []],
            focus_position=_float(getattr(focus, "Position", None)),
            focus_moving=str(getattr(focus, "MoveStatus", "IDLE")) == "MOVING",
        )

    async def apply(self, change: ImagingIn) -> ImagingState:
        """Set brightness and/or the IR cut filter after checking them against the camera's options.
        Raises InvalidInput for a value the camera does not offer."""
        current = await self.state()
        settings: dict[str, Any] = {}
        if change.brightness is not None:
            rng = current.brightness_range
            if rng is None or not rng[0] <= change.brightness <= rng[1]:
                raise InvalidInput(f"brightness must be within {rng} on this camera")
            settings["Brightness"] = change.brightness
        if change.ir_cut_filter is not None:
            if change.ir_cut_filter not in current.ir_cut_filter_modes:
                raise InvalidInput(f"this camera's IR cut filter offers {current.ir_cut_filter_modes}")
            settings["IrCutFilter"] = change.ir_cut_filter
        if settings:
            await self.call("SetImagingSettings", ImagingSettings=settings)
        return await self.state()

    async def focus(self, speed: float) -> None:
        """Continuous focus at ``speed``, or Stop for 0."""
        if speed == 0:
            await self.call("Stop")
        else:
            await self.call("Move", Focus={"Continuous": {"Speed": speed}})

    async def close(self) -> None:
        camera, self._camera, self._imaging = self._camera, None, None
        if camera is not None:
            try:
                await camera.close()
            except Exception:  # closing a dead connection must not mask the original error
                logger.debug("closing ONVIF client failed", exc_info=True)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
