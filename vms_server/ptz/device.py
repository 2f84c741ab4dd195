"""One ONVIF PTZ head, reached with onvif-zeep-async. Library errors become API errors here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from zeep.exceptions import Fault, TransportError

from vms_common.errors import Conflict, InvalidInput, NotReady, VmsError
from vms_server.ptz.node import GENERIC, AxisMissing, PtzNode, normalise, parse_node, velocity

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


def _subcodes(fault: Fault) -> list[str]:
    """The fault's subcode names (zeep gives lxml QNames, whose repr does not show the name)."""
    return [str(getattr(code, "localname", code)) for code in fault.subcodes or []]


async def _read_node(ptz: Any, configuration: Any | None) -> PtzNode:
    """The node behind the profile's PTZ configuration; the generic spaces when the camera does not
    describe it (ActionNotSupported on older firmware), so steering still works as before."""
    try:
        token = getattr(configuration, "token", None)
        if token is not None:
            configuration = await ptz.GetConfiguration({"PTZConfigurationToken": token})
        else:
            configurations = await ptz.GetConfigurations()
            configuration = configurations[0] if configurations else None
        node_token = getattr(configuration, "NodeToken", None)
        if node_token is None:
            nodes = await ptz.GetNodes()
            return parse_node(nodes[0], configuration) if nodes else PtzNode.generic()
        return parse_node(await ptz.GetNode({"NodeToken": node_token}), configuration)
    except Fault as exc:
        logger.info("the camera does not describe its PTZ node (%s); assuming the generic spaces", exc.message)
        return PtzNode.generic()


def _own_space(reported: str | None, node_space: str) -> bool:
    return reported == node_space and not node_space.startswith(GENERIC)


class PtzDevice:
    """Services and the profile token of one camera, set up once and reused."""

    def __init__(self, onvif_url: str, username: str | None, password: str | None) -> None:
        self.host, self.port = _address(onvif_url)
        self._username = username
        self._password = password
        self._camera: Any = None
        self._ptz: Any = None
        self.profile: str = ""
        self.node = PtzNode.generic()
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
                chosen = (with_ptz or profiles)[0]
                self.profile = str(chosen.token)
                ptz = await camera.create_ptz_service()
                self.node = await _read_node(ptz, getattr(chosen, "PTZConfiguration", None))
                self._ptz = ptz
            except BaseException:
                await camera.close()
                raise
            self._camera = camera
            return self._ptz

    async def aux_commands(self) -> tuple[str, ...]:
        """The auxiliary commands the camera's PTZ node offers (connecting first). Raises like call()."""
        await self.call("GetStatus")  # connects (reading the node) the first time, with call()'s error handling
        return self.node.aux_commands

    async def continuous_move(self, pan: float, tilt: float, zoom: float, timeout_s: float | None) -> None:
        """ContinuousMove at normalised speeds (-1..1 per axis), scaled into the node's velocity spaces.
        Raises Conflict for an axis the head lacks, and what call() raises."""

        def params() -> dict[str, Any]:
            try:
                out: dict[str, Any] = {"Velocity": velocity(self.node, pan, tilt, zoom)}
            except AxisMissing as exc:
                raise Conflict(str(exc)) from None
            if timeout_s is not None:
                out["Timeout"] = f"PT{timeout_s:.3f}S"
            return out

        await self.call("ContinuousMove", params)

    def normalised(self, pan: float | None, tilt: float | None, zoom: float | None,
                   pan_tilt_space: str | None, zoom_space: str | None) -> tuple[float | None, ...]:
        """A reported position in the generic ranges (pan/tilt -1..1, zoom 0..1). Positions in the
        generic spaces already are; those in a camera's own space are mapped from the node's range."""
        pt, zm = self.node.pan_tilt_position, self.node.zoom_position
        if pt is not None and pt.y is not None and _own_space(pan_tilt_space, pt.uri):
            pan = None if pan is None else normalise(pan, pt.x)
            tilt = None if tilt is None else normalise(tilt, pt.y)
        if zm is not None and zoom is not None and _own_space(zoom_space, zm.uri):
            zoom = normalise(zoom, zm.x, 0.0)
        return pan, tilt, zoom

    async def call(self, operation: str, build: Callable[[], dict[str, Any]] | None = None, **params: Any) -> Any:
        """Run a PTZ operation on the first PTZ profile (``build`` makes parameters once the node is
        known). Raises NotReady, PtzFailed or InvalidInput."""
        try:
            ptz = await self._connect()
            if build is not None:
                params.update(build())
            return await getattr(ptz, operation)({"ProfileToken": self.profile, **params})
        except Fault as exc:
            message = str(exc.message or exc)
            if "NoToken" in _subcodes(exc) or "no such preset" in message.lower():
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
