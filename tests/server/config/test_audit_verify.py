"""`vms-server audit verify` over configuration changes: intact, then an edited row and a removed row are
each reported as the first broken link, with a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import delete, select, update

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server.audit.models import AuditEntry
from vms_server.db.engine import create_engine, session_factory
from vms_server.settings import Settings


def verify(settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VMS_DATA_DIR": str(settings.data_dir), "VMS_DATABASE__URL": settings.database_url}
    env.pop("VMS_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "vms_server", "audit", "verify"], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


async def test_verify_reports_the_first_tampered_row(api: ApiClient, settings: Settings) -> None:
    for value in (3, 4, 6):
        await api.ok("PUT", "/api/v1/config/values", Role.ADMIN,
                     json={"scope": "system", "values": {"video.segment_s": value}})
    intact = verify(settings)
    assert intact.returncode == 0 and "intact" in intact.stdout, intact.stderr
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine).begin() as session:
            ids = list((await session.scalars(select(AuditEntry.id).where(AuditEntry.action == "config.changed")
                                              .order_by(AuditEntry.id))).all())
            # Someone hides who set 4 by rewriting the recorded value.
            await session.execute(update(AuditEntry).where(AuditEntry.id == ids[1])
                                  .values(new_value={"system:video.segment_s": 5}))
        edited = verify(settings)
        assert edited.returncode == 3 and f"BROKEN at entry {ids[1]}" in edited.stdout
        assert "edited" in edited.stdout
        async with session_factory(engine).begin() as session:
            await session.execute(delete(AuditEntry).where(AuditEntry.id == ids[1]))
        removed = verify(settings)
        assert removed.returncode == 3 and f"BROKEN at entry {ids[2]}" in removed.stdout
        assert "removed" in removed.stdout
    finally:
        await engine.dispose()
