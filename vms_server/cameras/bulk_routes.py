"""Routes for site IT: adding many cameras at once (found by discovery, or listed in a CSV file) and a
camera's network diagnostics."""

from __future__ import annotations

from vms_common.api.routing import ApiRouter, Call
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.api.context import actor_of
from vms_server.cameras import service
from vms_server.cameras.bulk import BulkAddIn, BulkReport, bulk_add
from vms_server.cameras.csv_import import CsvImportIn, import_csv
from vms_server.cameras.diagnostics import DiagnosticsIn, DiagnosticsOut, Target, run_diagnostics

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


@router.route("POST", "/cameras/{camera_id}/diagnostics", role=Role.ADMIN, body=DiagnosticsIn,
              response=DiagnosticsOut, tags=["cameras"], errors=(404, 422))
async def diagnose(call: Call[DiagnosticsIn]) -> DiagnosticsOut:
    """Run the network diagnostics of one camera now (takes a few seconds: `sample_s` per stream); the
    answer's `report` is plain text for a support ticket. Uses the stored credentials, never returns them."""
    app = call.app
    async with app[keys.SESSIONS]() as session:
        camera = await service.get_camera(session, call.path_uuid("camera_id"), call.user)
        secret = app[keys.SECRET_BOX].open(camera.secret_sealed) if camera.secret_sealed else None
        target = Target(camera_id=str(camera.id), name=camera.name,
                        onvif_url=service.split_url_credentials(camera.onvif_url)[0] if camera.onvif_url else None,
                        streams=[(s.role, s.rtsp_url, s.fps, s.bitrate_kbps) for s in camera.streams],
                        username=camera.username, password=secret)
    return await run_diagnostics(target, call.body)
