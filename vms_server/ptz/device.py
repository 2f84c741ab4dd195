"""One ONVIF PTZ head, reached with onvif-zeep-async. Library errors become API errors here."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from zeep.exceptions import Fault, TransportError

from vms_common.errors import Conflict, InvalidInput, NotReady, VmsError

logger = logging.getLogger(__name__)


class PtzFailed(VmsError):
    """The camera answered, but refused or failed the command."""

    status = 502
    code = "ptz_failed"


def _address(onvif_url: str) -> tuple[str, int]:
    parts = urlsplit(onvif_url)
    if not parts.hostname:
        raise Conflict(f"the camera's ONVIF address {onvif_url!r} has no host")
    try:
        return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Conflict(f"the camera's ONVIF address {onvif_url!r} has an invalid port") from None


class PtzDevice:
    """Services and the profile token of one camera, set up once and reused."""

    def __init__(self, onvif_url: str, username: str | None, password: str | None) -> None:
        self.host, self.port = _address(onvif_url)
        self._username = username
        self._password = password
        self._camera: Any = None
        self._ptz: Any = None
        self.profile: str = ""
        self._lock = asyncio.Lock()

    async def _connect(self) -> Any:
        from onvif import ONVIFCamera

        async with self._lock:
            if self._ptz is not None:
                return self._ptz
            camera = ONVIFCamera(self.host, self.port, self._username, self._password)
            try:
                await camera.update_xaddrs()
                media = await camera.create_media_service()
                profiles = await media.GetProfiles()
                if not profiles:
                    raise Conflict("the camera has no media profile to steer")
                with_ptz = [p for p in profiles if getattr(p, "PTZConfiguration", None) is not None]
                self.profile = str((with_ptz or profiles)[0].token)
                self._ptz = await camera.create_ptz_service()
            except BaseException:
                await camera.close()
                raise
            self._camera = camera
            return self._ptz

    async def call(self, operation: str, **params: Any) -> Any:
        """Run a PTZ operation on the first PTZ profile. Raises NotReady, PtzFailed or InvalidInput."""
        try:
            ptz = await self._connect()
            return await getattr(ptz, operation)({"ProfileToken": self.profile, **params})
        except Fault as exc:
            message = str(exc.message or exc)
            if "NoToken" in str(exc.subcodes or "") or "no such preset" in message.lower():
                raise InvalidInput(f"the camera does not know that preset: {message}") from None
            raise PtzFailed(f"the camera refused {operation}: {message}") from None
        except (aiohttp.ClientError, TransportError, OSError, TimeoutError) as exc:
            await self.close()
            raise NotReady(f"the camera's ONVIF service at {self.host}:{self.port} is not reachable "
                           f"({type(exc).__name__})") from None

    async def close(self) -> None:
        camera, self._camera, self._ptz = self._camera, None, None
        if camera is not None:
            try:
                await camera.close()
            except Exception:  # closing a dead connection must not mask the original error
                logger.debug("closing ONVIF client failed", exc_info=True)
