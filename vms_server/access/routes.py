"""`POST /api/v1/access/grants`: an access-control system tells the VMS that a badge was accepted at a door
a camera watches, so the tailgating model can count the people who go through on it."""

from __future__ import annotations

import datetime as dt
import time
import uuid

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from vms_common.api.routing import ApiRouter, Call
from vms_common.auth.roles import Role
from vms_common.errors import Conflict, NotFound
from vms_server import keys
from vms_server.access.grants import GRANTS, KEEP_S
from vms_server.cameras.models import Camera

router = ApiRouter()
TAGS = ["access"]
FUTURE_S = 60.0  # clocks of access-control systems drift; a grant further ahead is a mistake


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera_id: uuid.UUID = Field(description="The camera that watches the door")
    door: str | None = Field(None, min_length=1, max_length=100,
                             description="A door line of the camera's tailgating config; absent: every door line")
    at: AwareDatetime | None = Field(None, description="When access was granted (with a time zone); default now. "
                                     "More than 10 min back or 60 s ahead of the server's clock: 409")
    credential: str | None = Field(None, max_length=200, description="Badge or credential id, kept in the event")
    holder: str | None = Field(None, max_length=200, description="Credential holder's name")


class GrantOut(BaseModel):
    id: uuid.UUID
    camera_id: uuid.UUID
    door: str | None
    at: dt.datetime


@router.route("POST", "/access/grants", role=Role.SUPERVISOR, body=GrantIn, response=GrantOut, status=201,
              tags=TAGS, errors=(404, 409, 422))
async def add_grant(call: Call[GrantIn]) -> GrantOut:
    """Record one access grant: it admits one person across the camera's door line (tailgating model)."""
    body = call.body
    async with call.app[keys.SESSIONS]() as session:
        camera = await session.get(Camera, body.camera_id)
        if camera is None or camera.customer_id != call.user.customer_id or not call.user.can_see_site(
                camera.site_id):
            raise NotFound("no such camera")
    # Valid input, but a time the server's clock cannot use: the access system's clock or queue is off.
    now = time.time()
    ts = body.at.timestamp() if body.at is not None else now
    if ts > now + FUTURE_S:
        raise Conflict(f"at is more than {FUTURE_S:.0f} s ahead of the server's clock")
    if ts < now - KEEP_S:
        raise Conflict(f"at is more than {KEEP_S:.0f} s in the past: too late to count people against")
    grant = GRANTS.add(body.camera_id, ts, source="webhook", door=body.door, credential=body.credential,
                       holder=body.holder)
    return GrantOut(id=grant.grant_id, camera_id=grant.camera_id, door=grant.door,
                    at=dt.datetime.fromtimestamp(grant.ts, dt.UTC))
