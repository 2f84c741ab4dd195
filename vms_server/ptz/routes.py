"""HTTP routes for /cameras/{camera_id}/ptz (contract 4) and /imaging. Supervisors steer and adjust the
picture; admins edit presets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_common.errors import InvalidInput
from vms_server import keys
from vms_server.api.context import actor_of
from vms_server.audit.service import record
from vms_server.ptz.imaging import FocusIn, ImagingIn, ImagingState
from vms_server.ptz.keys import PTZ
from vms_server.ptz.schemas import (
    AuxIn,
    AuxList,
    AuxOut,
    PresetIn,
    PresetList,
    PresetOut,
    PtzMove,
    PtzStatus,
    TourQuery,
    TourState,
)
from vms_server.ptz.service import PtzService
from vms_server.ptz.topics import EventTopics, read_event_topics

router = ApiRouter()
_BASE = "/cameras/{camera_id}/ptz"
_ERRORS = (404, 409, 422, 502, 503)


def _ptz(call: Call[Any]) -> PtzService:
    return call.app[PTZ]


def _token(call: Call[Any]) -> str:
    token = call.request.match_info["token"]
    if not token or len(token) > 64:
        raise InvalidInput("invalid preset token")
    return token


@router.route("POST", _BASE + "/move", role=Role.SUPERVISOR, body=PtzMove, status=204, tags=["ptz"],
              errors=_ERRORS)
async def move(call: Call[PtzMove]) -> None:
    """Start a continuous move at the given velocities (all zero, or /stop, stops it)."""
    await _ptz(call).move(call.path_uuid("camera_id"), call.user, call.body)


@router.route("POST", _BASE + "/stop", role=Role.SUPERVISOR, status=204, tags=["ptz"], errors=_ERRORS)
async def stop(call: Call[NoBody]) -> None:
    """Stop pan, tilt and zoom (and any tour)."""
    await _ptz(call).stop(call.path_uuid("camera_id"), call.user)


@router.route("GET", _BASE + "/status", role=Role.VIEWER, response=PtzStatus, tags=["ptz"], errors=_ERRORS)
async def status(call: Call[NoBody]) -> PtzStatus:
    """Where the head points and whether it moves."""
    return await _ptz(call).status(call.path_uuid("camera_id"), call.user)


@router.route("GET", _BASE + "/presets", role=Role.VIEWER, response=PresetList, tags=["ptz"], errors=_ERRORS)
async def presets(call: Call[NoBody]) -> PresetList:
    """The camera's stored presets."""
    return PresetList(items=await _ptz(call).presets(call.path_uuid("camera_id"), call.user))


@router.route("POST", _BASE + "/presets", role=Role.ADMIN, body=PresetIn, response=PresetOut, status=201,
              tags=["ptz"], errors=_ERRORS)
async def save_preset(call: Call[PresetIn]) -> PresetOut:
    """Store the current position as a named preset."""
    camera_id = call.path_uuid("camera_id")
    preset = await _ptz(call).save_preset(camera_id, call.user, call.body.name)
    async with call.app[keys.SESSIONS].begin() as session:
        await record(session, actor_of(call), "ptz.preset.saved", target_type="camera", target_id=str(camera_id),
                     new=preset.model_dump())
    return preset


@router.route("POST", _BASE + "/presets/{token}/goto", role=Role.SUPERVISOR, status=204, tags=["ptz"],
              errors=_ERRORS)
async def goto_preset(call: Call[NoBody]) -> None:
    """Travel to a preset."""
    await _ptz(call).goto_preset(call.path_uuid("camera_id"), call.user, _token(call))


@router.route("DELETE", _BASE + "/presets/{token}", role=Role.ADMIN, status=204, tags=["ptz"], errors=_ERRORS)
async def delete_preset(call: Call[NoBody]) -> None:
    """Forget a preset."""
    camera_id, token = call.path_uuid("camera_id"), _token(call)
    await _ptz(call).delete_preset(camera_id, call.user, token)
    async with call.app[keys.SESSIONS].begin() as session:
        await record(session, actor_of(call), "ptz.preset.deleted", target_type="camera", target_id=str(camera_id),
                     old={"token": token})


@router.route("POST", _BASE + "/tours/{name}/start", role=Role.SUPERVISOR, query=TourQuery, response=TourState,
              tags=["ptz"], errors=_ERRORS)
async def start_tour(call: Call[NoBody]) -> TourState:
    """Cycle through the tour's presets on the server until stopped or steered by hand."""
    query = call.query(TourQuery)
    return await _ptz(call).start_tour(call.path_uuid("camera_id"), call.user, _name(call), query.dwell_s)


@router.route("POST", _BASE + "/tours/{name}/stop", role=Role.SUPERVISOR, response=TourState, tags=["ptz"],
              errors=_ERRORS)
async def stop_tour(call: Call[NoBody]) -> TourState:
    """Stop a running tour where the head is."""
    return await _ptz(call).stop_tour(call.path_uuid("camera_id"), call.user, _name(call))


@router.route("GET", _BASE + "/aux", role=Role.VIEWER, response=AuxList, tags=["ptz"], errors=_ERRORS)
async def aux_commands(call: Call[NoBody]) -> AuxList:
    """The auxiliary commands (wiper, IR lamp...) the camera's PTZ node offers."""
    return AuxList(items=await _ptz(call).aux_commands(call.path_uuid("camera_id"), call.user))


@router.route("POST", _BASE + "/aux", role=Role.SUPERVISOR, body=AuxIn, response=AuxOut, tags=["ptz"],
              errors=_ERRORS)
async def send_aux(call: Call[AuxIn]) -> AuxOut:
    """Send an auxiliary command (e.g. tt:Wiper|On, tt:IRLamp|On); 422 for one the camera does not offer."""
    camera_id = call.path_uuid("camera_id")
    answer = await _ptz(call).send_aux(camera_id, call.user, call.body.command)
    async with call.app[keys.SESSIONS].begin() as session:
        await record(session, actor_of(call), "camera.ptz.aux", target_type="camera", target_id=str(camera_id),
                     new={"command": call.body.command, "answer": answer})
    return AuxOut(command=call.body.command, answer=answer)


@router.route("GET", "/cameras/{camera_id}/imaging", role=Role.VIEWER, response=ImagingState, tags=["ptz"],
              errors=_ERRORS)
async def imaging_state(call: Call[NoBody]) -> ImagingState:
    """Brightness, IR cut filter and focus as the camera reports them, with the ranges it offers."""
    return await (await _ptz(call).imaging(call.path_uuid("camera_id"), call.user)).state()


@router.route("PATCH", "/cameras/{camera_id}/imaging", role=Role.SUPERVISOR, body=ImagingIn, response=ImagingState,
              tags=["ptz"], errors=_ERRORS)
async def imaging_change(call: Call[ImagingIn]) -> ImagingState:
    """Change brightness and/or the IR cut filter (day/night); 422 for a value the camera does not offer."""
    camera_id = call.path_uuid("camera_id")
    device = await _ptz(call).imaging(camera_id, call.user)
    before = await device.state()
    after = await device.apply(call.body)
    async with call.app[keys.SESSIONS].begin() as session:
        await record(session, actor_of(call), "camera.imaging.changed", target_type="camera",
                     target_id=str(camera_id), old=before.model_dump(include={"brightness", "ir_cut_filter"}),
                     new=after.model_dump(include={"brightness", "ir_cut_filter"}))
    return after


@router.route("POST", "/cameras/{camera_id}/imaging/focus", role=Role.SUPERVISOR, body=FocusIn, status=204,
              tags=["ptz"], errors=_ERRORS)
async def imaging_focus(call: Call[FocusIn]) -> None:
    """Turn the focus continuously (-1 near .. 1 far); speed 0 stops it."""
    await (await _ptz(call).imaging(call.path_uuid("camera_id"), call.user)).focus(call.body.speed)


@router.route("GET", "/cameras/{camera_id}/event-topics", role=Role.VIEWER, response=EventTopics, tags=["ptz"],
              errors=_ERRORS)
async def event_topics(call: Call[NoBody]) -> EventTopics:
    """The ONVIF event topics the camera says it can raise (GetEventProperties), for the camera's page."""
    _, url, username, password = await _ptz(call).access(call.path_uuid("camera_id"), call.user, ptz=False)
    return EventTopics(items=await read_event_topics(url, username, password))


def _name(call: Call[Any]) -> str:
    name = call.request.match_info["name"]
    if not 1 <= len(name) <= 64:
        raise InvalidInput("a tour name has 1 to 64 characters")
    return name


async def ptz_context(app: web.Application) -> AsyncIterator[None]:
    """The PTZ service: one ONVIF client per camera, tours; closed on shutdown."""
    app[PTZ] = PtzService(app[keys.SESSIONS], app[keys.SECRET_BOX])
    yield
    await app[PTZ].close()
