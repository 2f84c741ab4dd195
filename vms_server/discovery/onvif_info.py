"""GetDeviceInformation over plain SOAP with a WS-Security UsernameToken digest.

A scan may meet hundreds of devices; the ONVIF library parses its WSDLs for every camera object, which costs
seconds of CPU each on a small recorder, while this one request is all a scan needs to name a device.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from xml.etree import ElementTree as ET

import aiohttp

_ACTION = "http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation"
_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
_B64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"


@dataclass
class DeviceInfo:
    manufacturer: str | None
    model: str | None
    firmware: str | None
    serial: str | None
    hardware_id: str | None


class OnvifInfoError(Exception):
    """`kind`: unauthorised (the device is ONVIF but refused the credentials), not_onvif (something answered
    that is not an ONVIF device service), unreachable."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _security(username: str, password: str) -> str:
    nonce = os.urandom(16)
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()  # noqa: S324 - the WS-Security profile defines SHA-1
    return (f'<s:Header><wsse:Security xmlns:wsse="{_WSSE}" xmlns:wsu="{_WSU}"><wsse:UsernameToken>'
            f"<wsse:Username>{_xml(username)}</wsse:Username>"
            f'<wsse:Password Type="{_DIGEST}">{digest}</wsse:Password>'
            f'<wsse:Nonce EncodingType="{_B64}">{base64.b64encode(nonce).decode()}</wsse:Nonce>'
            f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security></s:Header>")


def _xml(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text(root: ET.Element, name: str) -> str | None:
    elem = next((e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == name), None)
    return (elem.text or "").strip() or None if elem is not None else None


async def device_information(http: aiohttp.ClientSession, url: str, username: str | None,
                             password: str | None, timeout_s: float) -> DeviceInfo:
    """Ask the device service at `url` who it is. Raises OnvifInfoError."""
    header = _security(username, password or "") if username else ""
    body = ('<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
            f'{header}<s:Body><GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body>'
            "</s:Envelope>")
    headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{_ACTION}"'}
    try:
        async with http.post(url, data=body.encode(), headers=headers,
                             timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            data = await resp.content.read(256 * 1024)
            status = resp.status
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise OnvifInfoError("unreachable", f"{type(exc).__name__}: {exc}") from None
    try:
        root = ET.fromstring(data)  # noqa: S314 - expat refuses entity expansion bombs; nothing is fetched
    except ET.ParseError:
        raise OnvifInfoError("not_onvif", f"HTTP {status}, not a SOAP answer") from None
    if status in (401, 403) or "NotAuthorized" in data.decode(errors="replace"):
        raise OnvifInfoError("unauthorised", "the device refused the credentials")
    if _text(root, "Manufacturer") is None and _text(root, "Model") is None:
        fault = _text(root, "Text") or f"HTTP {status}"
        raise OnvifInfoError("not_onvif", f"no device information: {fault}")
    return DeviceInfo(manufacturer=_text(root, "Manufacturer"), model=_text(root, "Model"),
                      firmware=_text(root, "FirmwareVersion"), serial=_text(root, "SerialNumber"),
                      hardware_id=_text(root, "HardwareId"))
