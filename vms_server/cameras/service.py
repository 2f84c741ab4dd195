"""Camera configuration: validation against the hierarchy and the licence, sealed credentials, audit."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vms_common.auth.principal import Principal
from vms_common.errors import Conflict, InvalidInput, NotFound
from vms_common.net import endpoint
from vms_server.audit.service import Actor, record
from vms_server.cameras.models import Camera, CameraGroup, CameraStream, Tag
from vms_server.cameras.schemas import (
    AuthMethod,
    CameraCreate,
    CameraOut,
    CameraQuery,
    CameraUpdate,
    CredentialsIn,
    StreamIn,
    StreamOut,
)
from vms_server.licensing.service import LicencePolicy, require_camera_slot
from vms_server.org.models import Building, Floor, Site, Zone
from vms_server.security.keystore import SecretBox


def camera_out(camera: Camera) -> CameraOut:
    """The camera as the API shows it: no URL carries credentials (rows stored before they were split out
    may still hold them in `onvif_url`)."""
    onvif_url = split_url_credentials(camera.onvif_url)[0] if camera.onvif_url else None
    return CameraOut(
        id=camera.id, name=camera.name, site_id=camera.site_id, zone_id=camera.zone_id,
        manufacturer=camera.manufacturer, model=camera.model, onvif_url=onvif_url,
        auth_method=AuthMethod(camera.auth_method), username=camera.username,
        has_secret=camera.secret_sealed is not None,
        streams=[StreamOut(role=s.role, rtsp_url=s.rtsp_url, codec=s.codec, width=s.width, height=s.height,
                           fps=s.fps, bitrate_kbps=s.bitrate_kbps) for s in camera.streams],
        tags=[t.name for t in camera.tags], groups=sorted(g.name for g in camera.groups),
        ptz=camera.ptz, enabled=camera.enabled, created_at=camera.created_at, updated_at=camera.updated_at,
    )


def _audit_view(camera: Camera) -> dict[str, Any]:
    return camera_out(camera).model_dump(mode="json", exclude={"created_at", "updated_at"})


def split_url_credentials(url: str) -> tuple[str, str | None, str | None]:
    """Move `user:pass@` out of an RTSP URL so that the stored, returned URL never carries a password."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean, unquote(parts.username or "") or None, unquote(parts.password or "") or None


def _streams(items: list[StreamIn]) -> tuple[list[CameraStream], tuple[str | None, str | None]]:
    streams: list[CameraStream] = []
    found: tuple[str | None, str | None] = (None, None)
    for item in items:
        url, user, password = split_url_credentials(item.rtsp_url)
        if user or password:
            found = (user, password)
        streams.append(CameraStream(role=item.role, rtsp_url=url, codec=item.codec, width=item.width,
                                    height=item.height, fps=item.fps, bitrate_kbps=item.bitrate_kbps))
    return streams, found


def _onvif(url: str | None, from_streams: tuple[str | None, str | None]
           ) -> tuple[str | None, tuple[str | None, str | None]]:
    """`onvif_url` without `user:pass@` (stored and returned clean), and the credentials to apply: those of
    the RTSP URLs when they carry any, else those written into the ONVIF address."""
    if not url:
        return url, from_streams
    clean, user, password = split_url_credentials(url)
    return clean, from_streams if any(from_streams) else (user, password)


def _require_credentials_for_new_host(camera: Camera, data: CameraUpdate,
                                      from_url: tuple[str | None, str | None]) -> None:
    """Refuse to point a camera that has a stored secret at a new host unless its credentials come with it.

    The server sends the stored password to whatever the camera's URLs name (RTSP digest/basic, ONVIF): an Admin,
    who may never read the password, could otherwise change the host to a listener of theirs and collect it.
    """
    if camera.secret_sealed is None or data.credentials is not None or from_url[1] is not None:
        return
    known = {endpoint(s.rtsp_url) for s in camera.streams}
    if camera.onvif_url:
        known.add(endpoint(camera.onvif_url))
    wanted = [s.rtsp_url for s in data.streams or []]
    if "onvif_url" in data.model_fields_set and data.onvif_url:
        wanted.append(data.onvif_url)
    moved = sorted({endpoint(url) for url in wanted} - known, key=str)
    if moved:
        host = moved[0][0] + (f":{moved[0][1]}" if moved[0][1] else "")
        raise InvalidInput(f"the camera's address changes to {host}: send its credentials again (the stored "
                           f"password is never sent to a new host)", code="credentials_required")


def _apply_credentials(camera: Camera, box: SecretBox, creds: CredentialsIn | None,
                       from_url: tuple[str | None, str | None]) -> None:
    if creds is None and any(from_url):
        creds = CredentialsIn(method=AuthMethod.DIGEST, username=from_url[0], secret=from_url[1])
    if creds is None:
        return
    secret = creds.secret.get_secret_value() if creds.secret else None
    if creds.method in (AuthMethod.BASIC, AuthMethod.DIGEST) and not creds.username:
        raise InvalidInput(f"{creds.method.value} authentication needs a username")
    if creds.method in (AuthMethod.TOKEN, AuthMethod.CERTIFICATE) and not secret:
        raise InvalidInput(f"{creds.method.value} authentication needs a secret")
    camera.auth_method = creds.method.value
    camera.username = creds.username if creds.method != AuthMethod.NONE else None
    camera.secret_sealed = box.seal(secret) if secret and creds.method != AuthMethod.NONE else None


async def _check_place(session: AsyncSession, who: Principal, site_id: uuid.UUID, zone_id: uuid.UUID | None) -> None:
    site = await session.get(Site, site_id)
    if site is None or site.customer_id != who.customer_id or not who.can_see_site(site_id):
        raise NotFound("unknown site_id")
    if zone_id is not None:
        zone_site = await session.scalar(
            select(Building.site_id).join(Floor, Floor.building_id == Building.id)
            .join(Zone, Zone.floor_id == Floor.id).where(Zone.id == zone_id))
        if zone_site != site_id:
            raise NotFound("zone_id is not a zone of this site")


async def _named(session: AsyncSession, model: type[Tag] | type[CameraGroup], customer_id: uuid.UUID,
                 names: list[str]) -> list[Any]:
    wanted = sorted({n.strip() for n in names if n.strip()})
    if any(len(n) > 100 for n in wanted):
        raise InvalidInput("tag and group names are at most 100 characters")
    rows: list[Any] = list((await session.scalars(
        select(model).where(model.customer_id == customer_id, model.name.in_(wanted)))).all())
    existing = {r.name: r for r in rows}
    for name in wanted:
        if name not in existing:
            existing[name] = model(customer_id=customer_id, name=name)
            session.add(existing[name])
    return [existing[n] for n in wanted]


async def _flush(session: AsyncSession, name: str | None) -> None:
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"a camera named '{name}' already exists on this site") from None


async def create_camera(session: AsyncSession, box: SecretBox, licensing: LicencePolicy, who: Principal,
                        data: CameraCreate, actor: Actor, *, simulated: bool = False) -> Camera:
    """`simulated`: a demo camera of `vms-server run --simulate`, which uses no licence slot (the API never
    sets it: a customer's own camera always counts)."""
    await _check_place(session, who, data.site_id, data.zone_id)
    if not simulated:
        await require_camera_slot(session, licensing)
    streams, from_url = _streams(data.streams)
    onvif_url, from_url = _onvif(data.onvif_url, from_url)
    camera = Camera(customer_id=who.customer_id, site_id=data.site_id, zone_id=data.zone_id, name=data.name,
                    manufacturer=data.manufacturer, model=data.model, onvif_url=onvif_url, ptz=data.ptz,
                    enabled=data.enabled, auth_method=AuthMethod.NONE.value, streams=streams, simulated=simulated,
                    tags=await _named(session, Tag, who.customer_id, data.tags),
                    groups=await _named(session, CameraGroup, who.customer_id, data.groups))
    _apply_credentials(camera, box, data.credentials, from_url)
    session.add(camera)
    await _flush(session, data.name)
    await record(session, actor, "camera.created", target_type="camera", target_id=camera.id,
                 new=_audit_view(camera))
    return camera


async def get_camera(session: AsyncSession, camera_id: uuid.UUID, who: Principal) -> Camera:
    camera = await session.get(Camera, camera_id)
    if camera is None or camera.customer_id != who.customer_id or not who.can_see_site(camera.site_id):
        raise NotFound("no such camera")
    return camera


async def update_camera(session: AsyncSession, box: SecretBox, camera_id: uuid.UUID, data: CameraUpdate,
                        who: Principal, actor: Actor) -> Camera:
    camera = await get_camera(session, camera_id, who)
    before = _audit_view(camera)
    given = data.model_fields_set
    # Credentials in an RTSP URL, else in `onvif_url`, replace the stored ones (as on create); neither URL keeps them.
    onvif_url, given_creds = _onvif(data.onvif_url if "onvif_url" in given else None,
                                    _streams(data.streams)[1] if data.streams else (None, None))
    _require_credentials_for_new_host(camera, data, given_creds)
    if "zone_id" in given:
        await _check_place(session, who, camera.site_id, data.zone_id)
        camera.zone_id = data.zone_id
    for name in ("name", "manufacturer", "model", "ptz", "enabled"):
        if name in given and getattr(data, name) is not None:
            setattr(camera, name, getattr(data, name))
    if "onvif_url" in given and onvif_url is not None:
        camera.onvif_url = onvif_url
    if data.streams is not None:
        camera.streams.clear()
        await session.flush()  # the old rows must go before new ones take their (camera, role) slot
        camera.streams = _streams(data.streams)[0]
    _apply_credentials(camera, box, data.credentials, given_creds)
    if data.tags is not None:
        camera.tags = await _named(session, Tag, who.customer_id, data.tags)
    if data.groups is not None:
        camera.groups = await _named(session, CameraGroup, who.customer_id, data.groups)
    await _flush(session, data.name)
    await session.refresh(camera)
    await record(session, actor, "camera.updated", target_type="camera", target_id=camera.id, old=before,
                 new=_audit_view(camera))
    return camera


async def delete_camera(session: AsyncSession, camera_id: uuid.UUID, who: Principal, actor: Actor) -> None:
    camera = await get_camera(session, camera_id, who)
    before = _audit_view(camera)
    await session.delete(camera)
    await session.flush()
    await record(session, actor, "camera.deleted", target_type="camera", target_id=camera_id, old=before)


def _cursor(name: str, camera_id: uuid.UUID) -> str:
    """`<id>.<name as hex UTF-8>`: a shape the document states (CameraQuery's pattern) and every string of which is a
    position in the list, so a cursor is either refused by the schema or served."""
    return f"{camera_id}.{name.encode().hex()}"


def _uncursor(cursor: str) -> tuple[str, uuid.UUID]:
    raw_id, _, name_hex = cursor.partition(".")
    # Bytes that are not UTF-8 still name a position (after the replacement character's place).
    return bytes.fromhex(name_hex).decode(errors="replace"), uuid.UUID(raw_id)


async def list_cameras(session: AsyncSession, who: Principal, q: CameraQuery) -> tuple[list[Camera], str | None]:
    """Keyset pagination on (name, id): stable while cameras are added, cheap at any depth."""
    query = select(Camera).where(Camera.customer_id == who.customer_id)
    if who.site_ids is not None:
        query = query.where(Camera.site_id.in_(who.site_ids))
    if q.site_id:
        query = query.where(Camera.site_id == q.site_id)
    if q.zone_id:
        query = query.where(Camera.zone_id == q.zone_id)
    if q.tag:
        query = query.where(Camera.tags.any(Tag.name == q.tag))
    if q.q:
        query = query.where(func.lower(Camera.name).contains(q.q.lower(), autoescape=True))
    if q.cursor:
        name, last = _uncursor(q.cursor)
        query = query.where((Camera.name > name) | ((Camera.name == name) & (Camera.id > last)))
    rows = list((await session.scalars(query.order_by(Camera.name, Camera.id).limit(q.limit + 1))).all())
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    return rows, (_cursor(rows[-1].name, rows[-1].id) if more and rows else None)
