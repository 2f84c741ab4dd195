"""Trying a camera before it is added: an RTSP URL (codec, size, rate) or an ONVIF address (profiles
and their stream URIs, read with onvif-zeep-async, or through Media2 where the camera offers it).
A camera that does not answer, refuses the credentials or fails is a 502 (another system failed) with a
code that says what is wrong; a malformed address is a 422."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from vms_common.errors import BadGateway, InvalidInput
from vms_server.ingest.health import StreamState
from vms_server.ingest.media2 import Media2Client, Media2Error, media2_address
from vms_server.ingest.source import SourceError, open_blocking, redact, with_credentials

logger = logging.getLogger(__name__)
CODEC_NAMES = {"H264": "h264", "H265": "hevc", "HEVC": "hevc", "JPEG": "mjpeg", "MJPEG": "mjpeg"}
_CODES = {StreamState.UNAUTHORISED: "stream_unauthorised", StreamState.UNSUPPORTED: "stream_unsupported",
          StreamState.OFFLINE: "stream_unreachable"}


def probe_rtsp_blocking(url: str, username: str | None, password: str | None, transport: str,
                        timeout: float) -> dict[str, Any]:
    """Open the stream once and describe it. Raises BadGateway (502) with a code per failure kind."""
    try:
        container, info = open_blocking(with_credentials(url, username, password), transport, timeout, timeout)
    except SourceError as exc:
        raise BadGateway(f"{redact(url)}: {exc}", code=_CODES.get(exc.state, "stream_unreachable")) from None
    container.close()
    return {"codec": info.codec, "width": info.width, "height": info.height, "fps": round(info.fps, 3)}


def onvif_address(onvif_url: str) -> tuple[str, int]:
    parts = urlsplit(onvif_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("onvif_url must be an http(s):// address of the device service")
    try:
        return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidInput("onvif_url has an invalid port") from None


def _is_auth_error(exc: BaseException) -> bool:
    text = f"{exc} {getattr(exc, 'message', '')} {getattr(exc, 'subcodes', '')}".lower()
    status = getattr(exc, "status_code", None)
    return status in (401, 403) or "not authorized" in text or "notauthorized" in text or "401" in text


async def _media2_profiles(camera: Any, username: str | None, password: str | None) -> list[dict[str, Any]] | None:
    """Profiles through Media2 when the camera offers it (the only way to see its H.265 streams); None
    to fall back to Media. Refused credentials are raised; any other Media2 trouble falls back."""
    from zeep.exceptions import Fault

    try:
        xaddr = await media2_address(await camera.create_devicemgmt_service())
    except Fault:  # older devices without GetServices
        return None
    if xaddr is None:
        return None
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            found = await Media2Client(xaddr, username, password, http).profiles()
    except Media2Error as exc:
        if _is_auth_error(exc):
            raise
        logger.info("the camera's Media2 service failed (%s); reading profiles through Media", exc)
        return None
    return [{"token": p["token"], "name": p["name"], "rtsp_url": redact(p["uri"]),
             "codec": CODEC_NAMES.get(str(p["encoding"] or "").upper()), "width": p["width"],
             "height": p["height"], "fps": p["fps"], "ptz": p["ptz"]} for p in found]


async def _profiles(camera: Any, username: str | None = None, password: str | None = None) -> list[dict[str, Any]]:
    media2 = await _media2_profiles(camera, username, password)
    if media2 is not None:
        return media2
    media = await camera.create_media_service()
    out = []
    for profile in await media.GetProfiles():
        uri = await media.GetStreamUri({"ProfileToken": profile.token, "StreamSetup": {
            "Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}})
        video = getattr(profile, "VideoEncoderConfiguration", None)
        resolution = getattr(video, "Resolution", None)
        rate = getattr(video, "RateControl", None)
        out.append({"token": str(profile.token), "name": str(getattr(profile, "Name", "") or profile.token),
                    "rtsp_url": redact(str(uri.Uri)),
                    "codec": CODEC_NAMES.get(str(getattr(video, "Encoding", "") or "").upper()),
                    "width": getattr(resolution, "Width", None), "height": getattr(resolution, "Height", None),
                    "fps": getattr(rate, "FrameRateLimit", None),
                    "ptz": getattr(profile, "PTZConfiguration", None) is not None})
    return out


async def probe_onvif(onvif_url: str, username: str | None, password: str | None,
                      limit_s: float = 10.0) -> dict[str, Any]:
    """Device information and media profiles. Raises BadGateway (codes onvif_unauthorised,
    onvif_unreachable, onvif_failed)."""
    from onvif import ONVIFCamera
    from zeep.exceptions import Fault, TransportError

    host, port = onvif_address(onvif_url)
    camera = ONVIFCamera(host, port, username or "", password or "")
    try:
        async with asyncio.timeout(limit_s):
            await camera.update_xaddrs()
            device = await camera.create_devicemgmt_service()
            info = await device.GetDeviceInformation()
            profiles = await _profiles(camera, username, password)
    except (Fault, TransportError) as exc:
        if _is_auth_error(exc):
            raise BadGateway("the camera refused the ONVIF credentials", code="onvif_unauthorised") from None
        raise BadGateway(f"the camera's ONVIF service failed: {exc}", code="onvif_failed") from None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise BadGateway(f"no ONVIF service reachable at {host}:{port} ({type(exc).__name__})",
                           code="onvif_unreachable") from None
    except Exception as exc:  # the library raises ONVIFError for auth and parse problems alike
        if _is_auth_error(exc):
            raise BadGateway("the camera refused the ONVIF credentials", code="onvif_unauthorised") from None
        raise BadGateway(f"the camera's ONVIF service failed: {type(exc).__name__}: {exc}",
                           code="onvif_failed") from None
    finally:
        try:
            await camera.close()
        except Exception:
            logger.debug("closing the ONVIF client failed", exc_info=True)
    return {"manufacturer": getattr(info, "Manufacturer", None), "model": getattr(info, "Model", None),
            "serial": getattr(info, "SerialNumber", None), "profiles": profiles}
