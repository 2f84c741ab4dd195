"""Adding many cameras in one call (found by discovery, or listed in a CSV file), each whole or not at all.

Licence rule: the whole batch is refused (403, nothing added) when it needs more camera slots than are free;
otherwise each camera is added in its own transaction and refused ones are reported one by one. The licence
is checked up front because a partial add would be an arbitrary subset (whichever cameras answered first):
the site's IT should choose which cameras to leave out. Other refusals (an unreachable camera, wrong
credentials, a duplicate name) concern one camera and should not hold back the others.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from vms_common.auth.principal import Principal
from vms_common.errors import InvalidInput, VmsError
from vms_server import keys
from vms_server.audit.service import Actor
from vms_server.cameras import service
from vms_server.cameras.changes import camera_changed
from vms_server.cameras.schemas import ONVIF_URL_PATTERN, CameraCreate, CameraOut
from vms_server.ingest.probe import probe_onvif
from vms_server.ingest.routes import OnvifAddIn, OnvifProbeOut, camera_from_probe
from vms_server.licensing.keys import LICENCE_POLICY
from vms_server.licensing.service import require_camera_slot

logger = logging.getLogger(__name__)
PROBE_CONCURRENCY = 4  # each ONVIF client parses its WSDLs: CPU-bound on a small recorder


class BulkCamera(BaseModel):
    model_config = ConfigDict(extra="forbid")
    onvif_url: str = Field(max_length=1000, json_schema_extra={"pattern": ONVIF_URL_PATTERN},
                           description="Device service address, e.g. from a discovery job")
    name: str | None = Field(None, min_length=1, max_length=200,
                             description="Default: '<model> <host>[:port]' as the camera reports its model")
    username: str | None = Field(None, max_length=200, description="This camera's user (overrides the shared one)")
    password: SecretStr | None = None
    tags: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("onvif_url")
    @classmethod
    def _address(cls, value: str) -> str:
        """A malformed address is a mistake in the request (422 for the whole call, nothing added), not a
        camera that failed to answer."""
        if not re.fullmatch(ONVIF_URL_PATTERN, value):
            raise ValueError("onvif_url must be an http(s):// address of the device service")
        return value


class BulkAddIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site_id: uuid.UUID
    zone_id: uuid.UUID | None = None
    username: str | None = Field(None, max_length=200, description="Shared credentials for every camera")
    password: SecretStr | None = None
    tags: list[str] = Field(default_factory=list, max_length=50, description="Given to every camera")
    cameras: list[BulkCamera] = Field(min_length=1, max_length=256)


class Refusal(BaseModel):
    item: str = Field(description="The camera's address, or 'row N' of a CSV file")
    name: str | None
    code: str
    message: str


class BulkReport(BaseModel):
    added: list[CameraOut]
    refused: list[Refusal]


Build = Callable[[], Awaitable[CameraCreate]]


def default_name(onvif_url: str, model: str | None) -> str:
    parts = urlsplit(onvif_url)
    try:
        port = parts.port
    except ValueError:
        port = None
    where = (parts.hostname or "?") + (f":{port}" if port and port != 80 else "")
    return f"{model or 'Camera'} {where}"[:200]


async def require_slots(app: web.Application, count: int) -> None:
    """Raise LicenceError (403) when `count` more cameras exceed the licence."""
    async with app[keys.SESSIONS].begin() as session:
        await require_camera_slot(session, app[LICENCE_POLICY], adding=count)


async def add_each(app: web.Application, who: Principal, actor: Actor, items: list[tuple[str, str | None, Build]],
                   concurrency: int = PROBE_CONCURRENCY) -> BulkReport:
    """Build each camera (probing it where needed, `concurrency` at a time), then add those that built, one
    transaction each, in the order given. A failure of one is its refusal; the others go on."""
    gate = asyncio.Semaphore(concurrency)

    async def build(make: Build) -> CameraCreate | VmsError:
        async with gate:
            try:
                return await make()
            except VmsError as exc:
                return exc

    built = await asyncio.gather(*(build(make) for _, _, make in items))
    report = BulkReport(added=[], refused=[])
    for (item, name, _), result in zip(items, built, strict=True):
        if isinstance(result, VmsError):
            report.refused.append(Refusal(item=item, name=name, code=result.code, message=result.message))
            continue
        try:
            async with app[keys.SESSIONS].begin() as session:
                camera = await service.create_camera(session, app[keys.SECRET_BOX], app[LICENCE_POLICY], who,
                                                     result, actor)
                out = service.camera_out(camera)
        except VmsError as exc:
            report.refused.append(Refusal(item=item, name=result.name, code=exc.code, message=exc.message))
            continue
        report.added.append(out)
        camera_changed(app, out.id)
    logger.info("bulk add: %d added, %d refused", len(report.added), len(report.refused))
    return report


def onvif_builder(body: BulkAddIn, item: BulkCamera) -> Build:
    """Probe the camera's ONVIF service for its identity and streams, as POST /cameras/from-onvif does."""
    username = item.username or body.username
    password = item.password if item.username or item.password else body.password

    async def make() -> CameraCreate:
        found = OnvifProbeOut.model_validate(await probe_onvif(
            item.onvif_url, username, password.get_secret_value() if password else None))
        add = OnvifAddIn(onvif_url=item.onvif_url, username=username, password=password,
                         name=item.name or default_name(item.onvif_url, found.model), site_id=body.site_id,
                         zone_id=body.zone_id, tags=sorted({*body.tags, *item.tags}))
        try:
            return camera_from_probe(add, found)
        except ValueError as exc:  # pydantic: what the camera reported does not make a valid camera
            raise InvalidInput(f"the camera's profiles are not usable: {exc}", code="onvif_failed") from None

    return make


async def bulk_add(app: web.Application, who: Principal, actor: Actor, body: BulkAddIn) -> BulkReport:
    """Add every camera of `body` that answers; see the module's licence rule. An address listed again in the
    same request is the same camera: it is added once, and each repetition is reported as refused
    (`bulk_duplicate`), so the report still has one line per item sent."""
    first: dict[str, BulkCamera] = {}
    repeated: list[Refusal] = []
    for camera in body.cameras:
        key = camera.onvif_url.rstrip("/")
        if key in first:
            repeated.append(Refusal(item=camera.onvif_url, name=camera.name, code="bulk_duplicate",
                                    message="this address is listed earlier in the same request"))
        else:
            first[key] = camera
    await require_slots(app, len(first))
    items = [(c.onvif_url, c.name, onvif_builder(body, c)) for c in first.values()]
    report = await add_each(app, who, actor, items)
    report.refused.extend(repeated)
    return report
