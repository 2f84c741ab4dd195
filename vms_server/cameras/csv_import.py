"""CSV import of cameras: every row is checked on its own and added whole or not at all, and the report
says which rows were added and why each refused row was refused.

Columns (a header row names them, in any order, case-insensitive; `,` `;` or tab separated, as spreadsheets
save them): `name`, `url` (rtsp:// stream, or http(s):// ONVIF device service, which is probed for its
streams), `username`, `password`, `auth` (none, basic, digest, token, certificate; default digest when a
username is given), `site` (`Site` or `Site/Building/Floor/Zone`; default: the request's site), `tags`
(separated by `;` or `|`), `sub_url` (an rtsp:// sub stream). Unknown columns are refused, so that a typo in
a header does not silently drop a column.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from sqlalchemy import select

from vms_common.auth.principal import Principal
from vms_common.errors import InvalidInput
from vms_server import keys
from vms_server.audit.service import Actor
from vms_server.cameras.bulk import (
    Build,
    BulkAddIn,
    BulkCamera,
    BulkReport,
    Refusal,
    add_each,
    onvif_builder,
    require_slots,
)
from vms_server.cameras.schemas import AuthMethod, CameraCreate, CredentialsIn, StreamIn
from vms_server.org.models import Building, Floor, Site, Zone

COLUMNS = {"name", "url", "username", "password", "auth", "site", "tags", "sub_url"}
MAX_ROWS = 2000


class CsvImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    csv: str = Field(min_length=1, max_length=1_000_000,
                     description="The file's text, header row first (see docs/network.md)")
    site_id: uuid.UUID | None = Field(None, description="Site of rows without a `site` column value")


@dataclass
class Row:
    number: int
    values: dict[str, str]

    def get(self, column: str) -> str:
        return (self.values.get(column) or "").strip()


def parse_rows(text: str) -> list[Row]:
    """Rows of the file keyed by lower-case column name. Raises InvalidInput for a file that cannot be read as
    a whole (no header, no `name` or `url` column, unknown columns, too many rows)."""
    text = text.lstrip("\ufeff")
    first = text.splitlines()[0] if text.strip() else ""
    if not first:
        raise InvalidInput("the CSV file is empty", code="csv_invalid")
    delimiter = max(",;\t", key=first.count)
    try:
        return _read_rows(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:  # a quote left open, a bare carriage return inside a field
        raise InvalidInput(f"the CSV file cannot be read: {exc}", code="csv_invalid") from None


def _read_rows(reader: Iterator[list[str]]) -> list[Row]:
    header = [h.strip().lower() for h in next(reader)]
    unknown = sorted(set(header) - COLUMNS - {""})
    if unknown:
        raise InvalidInput(f"unknown CSV columns: {', '.join(unknown)} (known: {', '.join(sorted(COLUMNS))})",
                           code="csv_invalid")
    missing = sorted({"name", "url"} - set(header))
    if missing:
        raise InvalidInput(f"the CSV header lacks the column(s) {', '.join(missing)}", code="csv_invalid")
    rows = []
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        rows.append(Row(number, {header[i]: v for i, v in enumerate(values) if i < len(header)}))
    if len(rows) > MAX_ROWS:
        raise InvalidInput(f"{len(rows)} rows; at most {MAX_ROWS} per import", code="csv_too_large")
    return rows


class Places:
    """Site paths of one import, resolved once each, limited to the sites the caller may see."""

    def __init__(self, app: web.Application, who: Principal) -> None:
        self.app, self.who = app, who
        self._cache: dict[str, tuple[uuid.UUID, uuid.UUID | None] | str] = {}

    async def resolve(self, path: str) -> tuple[uuid.UUID, uuid.UUID | None]:
        """(site_id, zone_id) of `Site` or `Site/Building/Floor/Zone`. Raises InvalidInput."""
        if path not in self._cache:
            self._cache[path] = await self._lookup(path)
        found = self._cache[path]
        if isinstance(found, str):
            raise InvalidInput(found, code="csv_unknown_site")
        return found

    async def _lookup(self, path: str) -> tuple[uuid.UUID, uuid.UUID | None] | str:
        parts = [p.strip() for p in path.split("/")]
        if len(parts) not in (1, 4) or not all(parts):
            return f"site '{path}' must be 'Site' or 'Site/Building/Floor/Zone'"
        async with self.app[keys.SESSIONS]() as session:
            site = await session.scalar(select(Site).where(Site.customer_id == self.who.customer_id,
                                                           Site.name == parts[0]))
            if site is None or not self.who.can_see_site(site.id):
                return f"no site named '{parts[0]}'"
            if len(parts) == 1:
                return site.id, None
            zone_id = await session.scalar(
                select(Zone.id).join(Floor, Zone.floor_id == Floor.id).join(Building, Floor.building_id == Building.id)
                .where(Building.site_id == site.id, Building.name == parts[1], Floor.name == parts[2],
                       Zone.name == parts[3]))
            if zone_id is None:
                return f"no zone '{'/'.join(parts[1:])}' in site '{parts[0]}'"
            return site.id, zone_id


def _credentials(row: Row) -> CredentialsIn | None:
    auth, username, password = row.get("auth").lower(), row.get("username"), row.get("password")
    if not auth and not username and not password:
        return None
    try:
        method = AuthMethod(auth or (AuthMethod.DIGEST if username else AuthMethod.TOKEN))
    except ValueError:
        raise InvalidInput(f"auth '{auth}' is not one of {', '.join(m.value for m in AuthMethod)}",
                           code="csv_invalid_row") from None
    return CredentialsIn(method=method, username=username or None, secret=SecretStr(password) if password else None)


def _tags(row: Row) -> list[str]:
    return [t.strip() for t in row.get("tags").replace("|", ";").split(";") if t.strip()]


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])


async def _row_builder(row: Row, places: Places, default_site: uuid.UUID | None) -> tuple[Build, bool]:
    """A builder for the row's camera and whether it needs the network (an ONVIF probe). Raises InvalidInput
    for what the row itself gets wrong, before anything is probed or counted against the licence."""
    name, url = row.get("name"), row.get("url")
    if not name:
        raise InvalidInput("the row has no name", code="csv_invalid_row")
    if not url:
        raise InvalidInput("the row has no url", code="csv_invalid_row")
    if row.get("site"):
        site_id, zone_id = await places.resolve(row.get("site"))
    elif default_site is not None:
        site_id, zone_id = default_site, None
    else:
        raise InvalidInput("the row has no site and the import names no default site_id", code="csv_unknown_site")
    credentials = _credentials(row)
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    try:
        if scheme in ("http", "https"):
            secret = credentials.secret if credentials else None
            body = BulkAddIn(site_id=site_id, zone_id=zone_id, cameras=[BulkCamera(
                onvif_url=url, name=name, username=credentials.username if credentials else None, password=secret,
                tags=_tags(row))])
            return onvif_builder(body, body.cameras[0]), True
        if scheme not in ("rtsp", "rtsps"):
            raise InvalidInput(f"url '{url}' is neither rtsp:// nor an http(s):// ONVIF address",
                               code="csv_invalid_row")
        streams = [StreamIn(role="main", rtsp_url=url)]
        if row.get("sub_url"):
            streams.append(StreamIn(role="sub", rtsp_url=row.get("sub_url")))
        create = CameraCreate(name=name, site_id=site_id, zone_id=zone_id, credentials=credentials,
                              streams=streams, tags=_tags(row))
    except ValidationError as exc:
        raise InvalidInput(_first_error(exc), code="csv_invalid_row") from None

    async def ready() -> CameraCreate:
        return create

    return ready, False


async def import_csv(app: web.Application, who: Principal, actor: Actor, body: CsvImportIn) -> BulkReport:
    """Check every row, refuse the whole file when its valid rows exceed the free licence slots (as bulk add
    does), then add each valid row in its own transaction."""
    places = Places(app, who)
    items: list[tuple[str, str | None, Build]] = []
    refused: list[Refusal] = []
    for row in parse_rows(body.csv):
        try:
            make, _ = await _row_builder(row, places, body.site_id)
        except InvalidInput as exc:
            refused.append(Refusal(item=f"row {row.number}", name=row.get("name") or None, code=exc.code,
                                   message=exc.message))
            continue
        items.append((f"row {row.number}", row.get("name"), make))
    if items:
        await require_slots(app, len(items))
    report = await add_each(app, who, actor, items)
    report.refused = sorted([*refused, *report.refused], key=lambda r: int(r.item.split()[-1]))
    return report
