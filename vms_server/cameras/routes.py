"""HTTP routes for /cameras."""

from __future__ import annotations

from vms_common.api.routing import ApiRouter, Call, NoBody
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.api.context import actor_of
from vms_server.cameras import service
from vms_server.cameras.changes import camera_changed
from vms_server.cameras.schemas import CameraCreate, CameraOut, CameraPage, CameraQuery, CameraUpdate, TagsIn
from vms_server.licensing.keys import LICENCE_POLICY

router = ApiRouter()


@router.route("GET", "/cameras", role=Role.VIEWER, query=CameraQuery, response=CameraPage, tags=["cameras"],
              errors=(422,))
async def list_cameras(call: Call[NoBody]) -> CameraPage:
    """Cameras the caller may see, filtered, a page at a time."""
    query = call.query(CameraQuery)
    async with call.app[keys.SESSIONS]() as session:
        rows, cursor = await service.list_cameras(session, call.user, query)
        return CameraPage(items=[service.camera_out(c) for c in rows], next_cursor=cursor)


@router.route("POST", "/cameras", role=Role.ADMIN, body=CameraCreate, response=CameraOut, status=201,
              tags=["cameras"], errors=(403, 404, 409, 422))
async def create_camera(call: Call[CameraCreate]) -> CameraOut:
    """Add a camera (refused with 403 when the licence's camera limit is reached)."""
    app = call.app
    async with app[keys.SESSIONS].begin() as session:
        camera = await service.create_camera(session, app[keys.SECRET_BOX], app[LICENCE_POLICY],
                                             call.user, call.body, actor_of(call))
        out = service.camera_out(camera)
    camera_changed(app, out.id)
    return out


@router.route("GET", "/cameras/{camera_id}", role=Role.VIEWER, response=CameraOut, tags=["cameras"],
              errors=(404,))
async def get_camera(call: Call[NoBody]) -> CameraOut:
    """One camera."""
    async with call.app[keys.SESSIONS]() as session:
        return service.camera_out(await service.get_camera(session, call.path_uuid("camera_id"), call.user))


@router.route("PATCH", "/cameras/{camera_id}", role=Role.ADMIN, body=CameraUpdate, response=CameraOut,
              tags=["cameras"], errors=(404, 409, 422))
async def update_camera(call: Call[CameraUpdate]) -> CameraOut:
    """Change a camera's settings, streams or credentials."""
    async with call.app[keys.SESSIONS].begin() as session:
        camera = await service.update_camera(session, call.app[keys.SECRET_BOX], call.path_uuid("camera_id"),
                                             call.body, call.user, actor_of(call))
        out = service.camera_out(camera)
    camera_changed(call.app, out.id)
    return out


@router.route("PUT", "/cameras/{camera_id}/tags", role=Role.SUPERVISOR, body=TagsIn, response=CameraOut,
              tags=["cameras"], errors=(404, 422))
async def set_tags(call: Call[TagsIn]) -> CameraOut:
    """Replace a camera's tags (supervisors organise cameras without changing their configuration)."""
    async with call.app[keys.SESSIONS].begin() as session:
        camera = await service.update_camera(session, call.app[keys.SECRET_BOX], call.path_uuid("camera_id"),
                                             CameraUpdate(tags=call.body.tags), call.user, actor_of(call))
        return service.camera_out(camera)


@router.route("DELETE", "/cameras/{camera_id}", role=Role.ADMIN, status=204, tags=["cameras"], errors=(404,))
async def delete_camera(call: Call[NoBody]) -> None:
    """Remove a camera from the configuration."""
    async with call.app[keys.SESSIONS].begin() as session:
        await service.delete_camera(session, call.path_uuid("camera_id"), call.user, actor_of(call))
    camera_changed(call.app, call.path_uuid("camera_id"))
