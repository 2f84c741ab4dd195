"""`vms-server backup` and `restore` run as real processes: a server with users, a camera (its password sealed
with the master secret) and events is backed up, restored onto a fresh data directory (SQLite) or over a wiped
database (PostgreSQL), and the API of the restored server logs the same admin in and lists the same events."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.conftest import _truncate, make_settings
from tests.server.test_cli import FAST_HASH, vms
from vms_server.security.keystore import SecretBox, load_master_secret
from vms_server.settings import Settings

ADMIN_PASSWORD = "Initial-Pass-1"


async def _add_camera_and_events(settings: Settings) -> list[str]:
    from vms_server.cameras.models import Camera
    from vms_server.db.engine import create_engine, session_factory
    from vms_server.events.models import Event
    from vms_server.org.models import Site

    box = SecretBox(load_master_secret(settings.data_dir))
    engine = create_engine(settings.database_url)
    async with session_factory(engine).begin() as session:
        site = (await session.scalars(select(Site))).one()
        camera = Camera(customer_id=site.customer_id, site_id=site.id, name="Gate", enabled=False,
                        auth_method="digest", username="cam", secret_sealed=box.seal("camera-secret"))
        session.add(camera)
        await session.flush()
        now = dt.datetime.now(dt.UTC)
        events = [Event(customer_id=site.customer_id, camera_id=camera.id, site_id=site.id, event_type="person",
                        model="test", confidence=0.9, timestamp=now - dt.timedelta(minutes=i), priority="HIGH")
                  for i in range(3)]
        session.add_all(events)
        await session.flush()
        ids = [str(e.id) for e in events]
    await engine.dispose()
    return ids


async def _camera_secret(settings: Settings) -> str | None:
    from vms_server.cameras.models import Camera
    from vms_server.db.engine import create_engine, session_factory

    engine = create_engine(settings.database_url)
    async with session_factory(engine)() as session:
        sealed = await session.scalar(select(Camera.secret_sealed))
    await engine.dispose()
    return None if sealed is None else SecretBox(load_master_secret(settings.data_dir)).open(sealed)


async def _events_seen_by_admin(settings: Settings, aiohttp_client: Any) -> set[str]:
    from vms_server.app import create_app

    client = await aiohttp_client(create_app(settings))
    resp = await client.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "ok", body
    resp = await client.get("/api/v1/events", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert resp.status == 200, await resp.text()
    return {item["id"] for item in (await resp.json())["items"]}


async def test_backup_restores_users_cameras_and_events(tmp_path: Path, db_url: str, aiohttp_client: Any) -> None:
    sqlite = db_url.startswith("sqlite")
    url = None if sqlite else db_url  # SQLite: the database lives in the data directory, as installed
    source = tmp_path / "source"
    env = {"VMS_SECURITY__MFA_REQUIRED": "false"}
    assert vms(source, "init", "--password", ADMIN_PASSWORD, env=env, db_url=url).returncode == 0
    assert vms(source, "user", "add", "op1", "--role", "viewer", "--password", "Operator-Pass-1",
               db_url=url).returncode == 0
    src_settings = make_settings(source, url or f"sqlite+aiosqlite:///{source / 'vms.db'}")
    event_ids = await _add_camera_and_events(src_settings)

    made = await asyncio.to_thread(vms, source, "backup", "--output", str(tmp_path), db_url=url)
    assert made.returncode == 0, made.stderr
    archive = Path(made.stdout.split("backup written: ")[1].split(" (")[0])
    assert archive.parent == tmp_path and archive.stat().st_mode & 0o777 == 0o600
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "secret.key" in names and not any(n.startswith("recordings/") for n in names)

    target = tmp_path / "restored"
    if sqlite:
        restored = await asyncio.to_thread(vms, target, "restore", str(archive))
    else:
        refused = await asyncio.to_thread(vms, target, "restore", str(archive), db_url=url)
        assert refused.returncode == 2 and "--force" in refused.stderr and "Traceback" not in refused.stderr
        await _truncate(db_url)  # the data is gone; the restore must bring it back
        restored = await asyncio.to_thread(vms, target, "restore", "--force", str(archive), db_url=url)
    assert restored.returncode == 0, restored.stderr
    assert (target / "secret.key").read_bytes() == (source / "secret.key").read_bytes()
    assert (target / "secret.key").stat().st_mode & 0o777 == 0o600

    settings = make_settings(target, url or f"sqlite+aiosqlite:///{target / 'vms.db'}",
                             security={"mfa_required": False}, recording={"enabled": False})
    assert await _camera_secret(settings) == "camera-secret"
    assert await _events_seen_by_admin(settings, aiohttp_client) == set(event_ids)
    listing = vms(target, "user", "list", db_url=url)
    assert "op1" in listing.stdout and "admin" in listing.stdout


def test_restore_refuses_bad_input_with_a_message(tmp_path: Path) -> None:
    source = tmp_path / "source"
    assert vms(source, "init", "--password", ADMIN_PASSWORD).returncode == 0
    (source / "recordings" / "cam").mkdir(parents=True)
    (source / "recordings" / "cam" / "seg.mp4").write_bytes(b"footage")
    conf = tmp_path / "server.toml"
    conf.write_text('[server]\nport = 8181\n')
    made = vms(source, "--config", str(conf), "backup", "--recordings", "--output", str(tmp_path / "full.tar.gz"))
    assert made.returncode == 0, made.stderr
    with tarfile.open(tmp_path / "full.tar.gz") as tar:
        assert "recordings/0/cam/seg.mp4" in tar.getnames()
    again = vms(source, "backup", "--output", str(tmp_path / "full.tar.gz"))
    assert again.returncode == 2 and "exists" in again.stderr

    not_tar = tmp_path / "notes.txt"
    not_tar.write_text("hello")
    no_manifest = tmp_path / "other.tar.gz"
    with tarfile.open(no_manifest, "w:gz") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    target = tmp_path / "target"
    cases = {
        str(tmp_path / "missing.tar.gz"): "not found",
        str(not_tar): "not a VMS backup",
        str(no_manifest): "not a VMS backup",
    }
    for path, message in cases.items():
        result = vms(target, "restore", path)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert not (target / "secret.key").exists()
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    unwritable = vms(blocked / "data", "restore", str(tmp_path / "full.tar.gz"))
    assert unwritable.returncode == 2 and "restore failed" in unwritable.stderr, unwritable.stderr
    assert "Traceback" not in unwritable.stderr

    busy = vms(source, "restore", str(tmp_path / "full.tar.gz"))
    assert busy.returncode == 2 and "not empty" in busy.stderr and "--force" in busy.stderr

    fresh = vms(target, "restore", str(tmp_path / "full.tar.gz"))
    assert fresh.returncode == 0, fresh.stderr
    assert (target / "recordings" / "cam" / "seg.mp4").read_bytes() == b"footage"
    assert not list(target.glob(".restore-*"))
    assert "restored 1 recording and event files" in fresh.stdout
    assert (target / "server.toml.from-backup").read_text() == conf.read_text()
    assert "admin" in vms(target, "user", "list").stdout


def test_backup_of_a_running_server_restores(tmp_path: Path) -> None:
    """The backup is taken while `vms-server run` holds the database open (SQLite online backup); a restore over
    the running server's database is refused even with --force."""
    source = tmp_path / "source"
    assert vms(source, "init", "--password", ADMIN_PASSWORD).returncode == 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, **FAST_HASH, "VMS_DATA_DIR": str(source), "VMS_RECORDING__ENABLED": "false"}
    env.pop("VMS_CONFIG", None)
    server = subprocess.Popen([sys.executable, "-m", "vms_server", "run", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "server did not start"
                time.sleep(0.3)
        assert vms(source, "user", "add", "op1", "--role", "viewer", "--password", "Operator-Pass-1").returncode == 0
        made = vms(source, "backup", "--output", str(tmp_path / "live.tar.gz"))
        assert made.returncode == 0, made.stderr
        assert server.poll() is None, "the backup must not disturb the running server"
        busy = vms(source, "restore", "--force", str(tmp_path / "live.tar.gz"))
        assert busy.returncode == 2 and "stop vms-server" in busy.stderr, busy.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
    target = tmp_path / "target"
    restored = vms(target, "restore", str(tmp_path / "live.tar.gz"))
    assert restored.returncode == 0, restored.stderr
    assert "op1" in vms(target, "user", "list").stdout
