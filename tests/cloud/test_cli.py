"""`vms-cloud`: migrate, tenants, users, operators, licence keys and issuing, with clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cloud.conftest import APP_ROLE, HQ_PASSWORD
from vms_cloud_sync.backend.settings import CloudSettings
from vms_cloud_sync.cli import main
from vms_cloud_sync.protocol.licence import parse, verify


@pytest.fixture
def env(cloud_settings: CloudSettings, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VMS_CLOUD_DATABASE__URL", cloud_settings.database.url)
    monkeypatch.setenv("VMS_CLOUD_DATABASE__ADMIN_URL", cloud_settings.database.admin_url)
    monkeypatch.setenv("VMS_CLOUD_DATABASE__APP_ROLE", APP_ROLE)
    monkeypatch.setenv("VMS_CLOUD_ARGON2__TIME_COST", "1")
    monkeypatch.setenv("VMS_CLOUD_ARGON2__MEMORY_KIB", "64")
    monkeypatch.setenv("VMS_CLOUD_ARGON2__PARALLELISM", "1")
    return cloud_settings.data_dir


def test_cli_admin_flow(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--data-dir", str(env)]
    assert main([*args, "migrate"]) == 0
    assert "schema is current" in capsys.readouterr().out
    assert main([*args, "tenant", "add", "acme", "Acme Ltd"]) == 0
    tenant = json.loads(capsys.readouterr().out)
    assert main([*args, "tenant", "add", "acme", "Again"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main([*args, "user", "add", "acme", "alice", "--role", "analyst", "--password", HQ_PASSWORD]) == 0
    assert main([*args, "user", "add", "nope", "bob", "--role", "viewer", "--password", HQ_PASSWORD]) == 2
    assert "no tenant 'nope'" in capsys.readouterr().err
    assert main([*args, "user", "add", "acme", "weak", "--role", "viewer", "--password", "short"]) == 1
    assert main([*args, "operator", "add", "root", "--password", HQ_PASSWORD]) == 0
    assert main([*args, "licence", "issue", "acme", "--cameras", "8"]) == 1
    assert "licence keygen" in capsys.readouterr().err
    assert main([*args, "licence", "keygen"]) == 0
    public = capsys.readouterr().out.rsplit(" ", 1)[-1].strip()
    assert main([*args, "licence", "keygen"]) == 1  # never overwritten by accident
    capsys.readouterr()
    assert main([*args, "licence", "issue", "acme", "--cameras", "8", "--analytics", "anpr"]) == 0
    terms = verify(parse(capsys.readouterr().out.strip()), [public])
    assert (terms.max_cameras, str(terms.customer_id), terms.customer_name) == (8, tenant["id"], "Acme Ltd")
    assert terms.server_ids == []
    server = "srv-" + "a1" * 10
    assert main([*args, "licence", "issue", "acme", "--cameras", "2", "--server-id", server]) == 0
    assert verify(parse(capsys.readouterr().out.strip()), [public]).server_ids == [server]
    assert main([*args, "licence", "issue", "acme", "--cameras", "2", "--server-id", "my-server"]) == 2
    assert "my-server is not a server id" in capsys.readouterr().err
    assert main([*args, "tenant", "list"]) == 0
    assert "acme" in capsys.readouterr().out


def test_cli_refuses_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VMS_CLOUD_DATABASE__ADMIN_URL", f"sqlite+aiosqlite:///{tmp_path}/x.db")
    assert main(["--data-dir", str(tmp_path), "migrate"]) == 2
    assert "needs PostgreSQL" in capsys.readouterr().err
