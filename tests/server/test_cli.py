"""The vms-server command line, run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.licence_helpers import Issuer

FAST_HASH = {"VMS_SECURITY__ARGON2__MEMORY_KIB": "64", "VMS_SECURITY__ARGON2__TIME_COST": "1"}


def vms(data_dir: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None,
        db_url: str | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **FAST_HASH, "VMS_DATA_DIR": str(data_dir), **(env or {})}
    full_env.pop("VMS_CONFIG", None)
    if db_url:
        full_env["VMS_DATABASE__URL"] = db_url
    return subprocess.run([sys.executable, "-m", "vms_server", *args], capture_output=True, text=True,
                          env=full_env, input=stdin, timeout=120, check=False)


def test_init_generates_a_password_once_and_refuses_a_second_init(tmp_path: Path, db_url: str) -> None:
    data = tmp_path / "data"
    first = vms(data, "init", "--customer", "ACME", db_url=db_url)
    assert first.returncode == 0, first.stderr
    line = next(ln for ln in first.stdout.splitlines() if ln.startswith("admin password"))
    assert len(line.rsplit(" ", 1)[1]) == 20
    assert (data / "secret.key").stat().st_mode & 0o777 == 0o600
    second = vms(data, "init", db_url=db_url)
    assert second.returncode == 1 and "already initialised" in second.stderr
    assert "password" not in second.stdout
    assert vms(data, "init", "--exist-ok", db_url=db_url).returncode == 0
    listing = vms(data, "user", "list", db_url=db_url)
    assert "admin" in listing.stdout and "admin " in listing.stdout


def test_users_and_licence_from_the_cli(tmp_path: Path) -> None:
    data = tmp_path / "data"
    issuer = Issuer()
    env = {"VMS_LICENSING__PUBLIC_KEYS": json.dumps([issuer.public])}
    assert vms(data, "init", "--password", "Initial-Pass-1", env=env).returncode == 0
    added = vms(data, "user", "add", "op1", "--role", "viewer", "--password", "Operator-Pass-1", env=env)
    assert added.returncode == 0 and "added op1 (viewer)" in added.stdout
    weak = vms(data, "user", "add", "op2", "--role", "viewer", "--password", "short", env=env)
    assert weak.returncode == 1 and "at least 10 characters" in weak.stderr
    assert vms(data, "user", "disable", "op1", env=env).returncode == 0
    assert "disabled" in vms(data, "user", "list", env=env).stdout
    assert vms(data, "user", "enable", "op1", env=env).returncode == 0
    assert "disabled" not in vms(data, "user", "list", env=env).stdout
    missing = vms(data, "user", "disable", "ghost", env=env)
    assert missing.returncode == 1 and "no user named ghost" in missing.stderr
    lic = tmp_path / "licence.json"
    lic.write_text(issuer.issue(max_cameras=32).model_dump_json())
    imported = vms(data, "license", "import", str(lic), env=env)
    assert imported.returncode == 0, imported.stderr
    shown = json.loads(vms(data, "license", "show", env=env).stdout)
    assert shown["state"] == "valid" and shown["max_cameras"] == 32
    lic.write_text(lic.read_text().replace('"max_cameras":32', '"max_cameras":99'))
    tampered = vms(data, "licence", "import", str(lic), env=env)
    assert tampered.returncode == 1 and "signature does not match" in tampered.stderr
    assert vms(data, "license", "import", str(tmp_path / "nope.json"), env=env).returncode == 2
    verified = vms(data, "audit", "verify", env=env)
    assert verified.returncode == 0 and "intact" in verified.stdout


def test_bad_configuration_gives_a_clear_message(tmp_path: Path) -> None:
    bad = vms(tmp_path, "migrate", env={"VMS_SERVER__PORT": "http"})
    assert bad.returncode == 2 and "VMS_SERVER__PORT" in bad.stderr and "Traceback" not in bad.stderr
    conf = tmp_path / "server.toml"
    conf.write_text('[server]\nport = 8081\ncolour = "red"\n')
    bad = vms(tmp_path, "--config", str(conf), "migrate")
    assert bad.returncode == 2 and "server.colour" in bad.stderr
    conf.write_text("[server\n")
    bad = vms(tmp_path, "--config", str(conf), "migrate")
    assert bad.returncode == 2 and "cannot read" in bad.stderr and "Traceback" not in bad.stderr
    missing = vms(tmp_path, "--config", str(tmp_path / "none.toml"), "migrate")
    assert missing.returncode == 2 and "not found" in missing.stderr
    no_init = vms(tmp_path / "empty", "user", "list")
    assert no_init.returncode == 2 and "vms-server init" in no_init.stderr


def test_run_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    from vms_server.security.keystore import create_master_secret

    create_master_secret(tmp_path)
    result = vms(tmp_path, "run", "--port", "0")
    assert result.returncode == 2 and "vms-server init" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [[], ["init"], ["run"], ["user"], ["user", "add"], ["license"], ["migrate"],
                                  ["backup"], ["restore"]])
def test_help_explains_each_command(tmp_path: Path, args: list[str]) -> None:
    result = vms(tmp_path, *args, "--help")
    assert result.returncode == 0 and "usage: vms-server" in result.stdout


@pytest.mark.slow
def test_run_with_simulated_cameras_registers_them_once(tmp_path: Path) -> None:
    import asyncio
    import socket
    import time
    import urllib.request

    from sqlalchemy import select

    from vms_server.cameras.models import Camera
    from vms_server.db.engine import create_engine, session_factory

    data = tmp_path / "data"
    assert vms(data, "init", "--password", "Initial-Pass-1").returncode == 0

    def serve_once() -> list[tuple[str, str]]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, **FAST_HASH, "VMS_DATA_DIR": str(data)}
        proc = subprocess.Popen([sys.executable, "-m", "vms_server", "run", "--port", str(port), "--simulate", "2"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    time.sleep(0.5)
            else:
                raise AssertionError("server with simulated cameras did not start")
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
        assert b"Traceback" not in err, err.decode()[-2000:]
        assert proc.returncode == 0, "SIGTERM must shut the server down cleanly"

        async def rows() -> list[tuple[str, str]]:
            engine = create_engine(f"sqlite+aiosqlite:///{data / 'vms.db'}")
            async with session_factory(engine)() as session:
                cams = (await session.scalars(select(Camera).order_by(Camera.name))).all()
                result = [(c.name, c.streams[0].rtsp_url) for c in cams]
            await engine.dispose()
            return result

        return asyncio.run(rows())

    first = serve_once()
    assert [name for name, _ in first] == ["Simulated sim1", "Simulated sim2"]
    assert all(url.startswith("rtsp://127.0.0.1:") for _, url in first)
    second = serve_once()
    assert [name for name, _ in second] == ["Simulated sim1", "Simulated sim2"]
    # Demo cameras use no licence slot: the whole evaluation allowance is left for the user's own cameras.
    shown = json.loads(vms(data, "licence", "show").stdout)
    assert shown["cameras_used"] == 0 and shown["max_cameras"] == 4
