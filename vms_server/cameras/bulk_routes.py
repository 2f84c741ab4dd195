"""Routes adding many cameras at once: found by discovery (POST /cameras/bulk) or listed in a CSV file."""

from __future__ import annotations

from vms_common.api.routing import ApiRouter, Call
from vms_common.auth.roles import Role
from vms_server.api.context import actor_of
from vms_server.cameras.bulk import BulkAddIn, BulkReport, bulk_add
from vms_server.cameras.csv_import import CsvImportIn, import_csv

router = ApiRouter()


@router.route("POST", "/cameras/bulk", role=Role.ADMIN, body=BulkAddIn, response=BulkReport, tags=["cameras"],
              errors=(403, 422))
async def add_many(call: Call[BulkAddIn]) -> BulkReport:
    """Add cameras by their ONVIF addresses with shared or per-camera credentials. 403 and nothing added when
    the batch needs more licence slots than are free; otherwise each camera is added or reported refused."""
    return await bulk_add(call.app, call.user, actor_of(call), call.body)


@router.route("POST", "/cameras/import-csv", role=Role.ADMIN, body=CsvImportIn, response=BulkReport,
              tags=["cameras"], errors=(403, 422))
async def import_cameras(call: Call[CsvImportIn]) -> BulkReport:
    """Import cameras from CSV text: valid rows are added, each refused row is reported with its reason
    (a file that cannot be read at all, or whose valid rows exceed the free licence slots: 422/403)."""
    return await import_csv(call.app, call.user, actor_of(call), call.body)
