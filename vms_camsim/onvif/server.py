"""aiohttp front end of the ONVIF services: one small app (and port) per camera.

Standard clients (onvif-zeep-async among them) always start at ``/onvif/device_service`` on the
port they are given, so cameras are told apart by port, not by path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

import cv2
from aiohttp import web
from multidict import CIMultiDict

from vms_camsim.camera import CameraRuntime
from vms_camsim.encoder import decode_loop_picture_blocking, overlay_blocking
from vms_camsim.feeds import LoopFeed
from vms_camsim.onvif.device_media import DEVICE_OPS, MEDIA_OPS, Handler, OnvifContext
from vms_camsim.onvif.device_network import DEVICE_NETWORK_OPS
from vms_camsim.onvif.device_setters import DEVICE_SETTER_OPS
from vms_camsim.onvif.device_settings import DEVICE_SETTINGS_OPS
from vms_camsim.onvif.events import EventService
from vms_camsim.onvif.imaging import IMAGING_OPS
from vms_camsim.onvif.media2 import MEDIA2_OPS
from vms_camsim.onvif.media2_edit import MEDIA2_EDIT_OPS
from vms_camsim.onvif.media_configs import MEDIA_CONFIG_OPS
from vms_camsim.onvif.media_edit import MEDIA_EDIT_OPS
from vms_camsim.onvif.media_profiles import MEDIA_PROFILE_OPS
from vms_camsim.onvif.ptz_aux import PTZ_AUX_OPS
from vms_camsim.onvif.ptz_home import PTZ_HOME_OPS
from vms_camsim.onvif.ptz_service import PTZ_OPS
from vms_camsim.onvif.recording_search import RECORDING_OPS, SEARCH_OPS
from vms_camsim.onvif.replay import REPLAY_OPS
from vms_camsim.onvif.soap import (
    SoapFault,
    child,
    envelope,
    fault_envelope,
    local,
    not_authorized,
    parse_request,
)
from vms_camsim.onvif.users import USER_OPS, allowed
from vms_camsim.scenes import FULL_VIEW

if TYPE_CHECKING:
    from vms_camsim.handle import SimulatorHandle

log = logging.getLogger(__name__)

CONTEXT_KEY = web.AppKey("onvif_context", OnvifContext)
EVENTS_KEY = web.AppKey("onvif_events", EventService)
_CONTENT_TYPE = "application/soap+xml; charset=utf-8"
_NO_AUTH_OPS = {"GetSystemDateAndTime"}
_MAX_BODY = 256 * 1024


def _soap_response(xml: str, status: int = 200) -> web.Response:
    return web.Response(text=xml, status=status, content_type="application/soap+xml", charset="utf-8")


def _authorise(ctx: OnvifContext, request: web.Request, header: Element | None, operation: str) -> None:
    """WS-Security UsernameToken or HTTP Digest, as the ONVIF core specification has it, for any user
    of the camera's list: a refused token is a SOAP fault (HTTP 400); a request without a token is
    taken to use HTTP Digest, so it gets 401 with a challenge unless its Authorization header is good.
    A known user whose level does not allow the operation gets ter:NotAuthorized (400)."""
    cam = ctx.camera.config
    has_token = child(header, "Security", "UsernameToken") is not None
    if cam.faults.refuse_auth:
        raise not_authorized(400 if has_token else 401)
    if not cam.onvif_auth or operation in _NO_AUTH_OPS:
        return
    if has_token:
        user = ctx.users.check_token(header, ctx.nonces, ctx.camera.clock_offset_s)
        if user is None:
            raise not_authorized(400)
    else:
        user = ctx.http_auth.user_of(request.method, request.headers.get("Authorization"))
        if user is None:
            raise not_authorized(401)
    if not allowed(user, operation):
        raise not_authorized(400)


def _fault_response(ctx: OnvifContext, fault: SoapFault) -> web.Response:
    response = _soap_response(fault_envelope(fault), fault.http_status)
    if fault.http_status == 401:
        response.headers["WWW-Authenticate"] = ctx.http_auth.challenge()["WWW-Authenticate"]
    return response


async def _read_soap(request: web.Request) -> tuple[Element | None, Element]:
    if request.content_length is not None and request.content_length > _MAX_BODY:
        raise SoapFault("Sender", ("ter:WellFormed",), "request too large")
    return parse_request(await request.read())


def _service_handler(ops: dict[str, Handler]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        ctx = request.app[CONTEXT_KEY]
        try:
            header, op = await _read_soap(request)
            name = local(op.tag)
            events = request.app[EVENTS_KEY]
            handler = ops.get(name)
            if handler is None and ops is _EVENT_OPS:
                handler = {"CreatePullPointSubscription": events.create, "GetEventProperties": events.properties,
                           "GetServiceCapabilities": events.capabilities}.get(name)
            if handler is None:
                raise SoapFault("Receiver", ("ter:ActionNotSupported",), f"{name} is not supported", 500)
            _authorise(ctx, request, header, name)
            answer = handler(ctx, op)
            return _soap_response(envelope(answer if isinstance(answer, str) else await answer))
        except SoapFault as fault:
            return _fault_response(ctx, fault)

    return handle


_EVENT_OPS: dict[str, Handler] = {}


async def _subscription(request: web.Request) -> web.StreamResponse:
    ctx, events = request.app[CONTEXT_KEY], request.app[EVENTS_KEY]
    try:
        header, op = await _read_soap(request)
        name = local(op.tag)
        _authorise(ctx, request, header, name)
        sub = events.get(request.match_info["sid"])
        if name == "PullMessages":
            return _soap_response(envelope(await events.pull(sub, op)))
        if name == "Renew":
            return _soap_response(envelope(events.renew(sub, op)))
        if name == "Unsubscribe":
            return _soap_response(envelope(events.unsubscribe(sub)))
        if name == "SetSynchronizationPoint":
            sub.synchronise()
            return _soap_response(envelope("<tev:SetSynchronizationPointResponse/>"))
        raise SoapFault("Receiver", ("ter:ActionNotSupported",), f"{name} is not supported", 500)
    except SoapFault as fault:
        return _fault_response(ctx, fault)


def _snapshot_blocking(camera: CameraRuntime, token: str) -> bytes:
    """The picture on air now: decoded from the shared loop, or rendered for live (PTZ) feeds."""
    feed = camera.feeds[token]
    now = time.time()
    if isinstance(feed, LoopFeed):
        frame = decode_loop_picture_blocking(feed.loop, feed.index_at(now))
    else:
        stream = feed.stream
        view = camera.ptz.view(now) if camera.ptz else FULL_VIEW
        frame = camera.scene.render(camera.phase(now), stream.width, stream.height, view)
        overlay_blocking(frame, int(now * 1000), 0, time.strftime("%H:%M:%S", time.gmtime(now)))
    ok, data = cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise web.HTTPInternalServerError(text="JPEG encoding failed")
    return bytes(data.tobytes())


async def _snapshot(request: web.Request) -> web.StreamResponse:
    camera = request.app[CONTEXT_KEY].camera
    token = request.match_info["token"]
    if token not in camera.feeds:
        raise web.HTTPNotFound(text="no such profile")
    if not camera.auth.check("GET", request.headers.get("Authorization")):
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in camera.auth.challenge().items():
            headers.add(name.split("#")[0], value)
        return web.Response(status=401, headers=headers, text="authentication required")
    data = await asyncio.to_thread(_snapshot_blocking, camera, token)
    return web.Response(body=data, content_type="image/jpeg")


@web.middleware
async def _network(request: web.Request,
                   handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """A camera whose network is down (SimulatorHandle.set_network) drops every request unanswered."""
    if request.app[CONTEXT_KEY].camera.network_down:
        if request.transport is not None:
            request.transport.abort()
        raise web.HTTPServiceUnavailable(text="network down")
    return await handler(request)


def create_onvif_app(ctx: OnvifContext) -> web.Application:
    """The ONVIF app of one camera."""
    app = web.Application(client_max_size=_MAX_BODY, middlewares=[_network])
    app[CONTEXT_KEY] = ctx
    app[EVENTS_KEY] = EventService(ctx.camera)
    device_ops = {**DEVICE_OPS, **DEVICE_SETTINGS_OPS, **DEVICE_SETTER_OPS, **DEVICE_NETWORK_OPS, **USER_OPS}
    app.router.add_post("/onvif/device_service", _service_handler(device_ops))
    media_ops = {**MEDIA_OPS, **MEDIA_CONFIG_OPS, **MEDIA_EDIT_OPS, **MEDIA_PROFILE_OPS}
    app.router.add_post("/onvif/media_service", _service_handler(media_ops))
    app.router.add_post("/onvif/media2_service", _service_handler({**MEDIA2_OPS, **MEDIA2_EDIT_OPS}))
    app.router.add_post("/onvif/ptz_service", _service_handler({**PTZ_OPS, **PTZ_HOME_OPS, **PTZ_AUX_OPS}))
    app.router.add_post("/onvif/imaging_service", _service_handler(IMAGING_OPS))
    app.router.add_post("/onvif/events_service", _service_handler(_EVENT_OPS))
    app.router.add_post("/onvif/subscription/{sid}", _subscription)
    app.router.add_get("/onvif/snapshot/{token}.jpg", _snapshot)
    app.router.add_post("/onvif/search_service", _service_handler(SEARCH_OPS))  # Profile G
    app.router.add_post("/onvif/replay_service", _service_handler(REPLAY_OPS))
    app.router.add_post("/onvif/recording_service", _service_handler(RECORDING_OPS))
    return app


class OnvifServers:
    """Runs one ONVIF app per camera on consecutive ports (or free ports when the base is 0)."""

    def __init__(self, handle: SimulatorHandle) -> None:
        self.handle = handle
        self._runners: list[web.AppRunner] = []

    async def start(self) -> None:
        """Bind every camera's port. Raises OSError when a port is taken."""
        cfg = self.handle.config
        base = cfg.onvif_port or 0
        for index, camera in enumerate(self.handle.cameras.values()):
            port = base + index if base else 0
            ctx = OnvifContext(camera, "", {})
            runner = web.AppRunner(create_onvif_app(ctx), access_log=None)
            await runner.setup()
            self._runners.append(runner)
            site = web.TCPSite(runner, cfg.host, port)
            await site.start()
            server = runner.server
            assert server is not None
            camera.onvif_port = _bound_port(runner) or port
            ctx.base_url = f"http://{cfg.public_host}:{camera.onvif_port}"
            ctx.rtsp_urls = {name: self.handle.rtsp_url(camera.name, name) for name in camera.feeds}

    async def close(self) -> None:
        """Stop every app."""
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return 0
