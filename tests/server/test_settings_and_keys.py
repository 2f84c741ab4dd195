"""Settings sources and precedence; the key store; readiness and the detailed health report."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from tests.server.helpers import ApiClient
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.security.keystore import KeyStoreError, SecretBox, create_master_secret, load_master_secret
from vms_server.settings import SettingsError, load_settings


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "server.toml"
    conf.write_text(f'data_dir = "{tmp_path}/d"\n[server]\nport = 9000\nhost = "0.0.0.0"\n'
                    '[security]\nip_allowlist = ["10.0.0.0/8"]\n')
    monkeypatch.setenv("VMS_SERVER__PORT", "9100")
    settings = load_settings(conf)
    assert settings.server.port == 9100 and settings.server.host == "0.0.0.0"
    assert str(settings.security.ip_allowlist[0]) == "10.0.0.0/8"
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path}/d/vms.db"


def test_every_bad_key_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VMS_SECURITY__ACCESS_TOKEN_MINUTES", "0")
    with pytest.raises(SettingsError) as err:
        load_settings(None, server={"port": 0})
    message = str(err.value)
    assert "server.port" in message and "security.access_token_minutes" in message


def test_secret_store_is_private_and_never_replaced(tmp_path: Path) -> None:
    create_master_secret(tmp_path)
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    with pytest.raises(KeyStoreError, match="refusing to replace"):
        create_master_secret(tmp_path)
    box = SecretBox(load_master_secret(tmp_path))
    sealed = box.seal("camera-password")
    assert "camera-password" not in sealed and box.open(sealed) == "camera-password"
    other = tmp_path / "other"
    create_master_secret(other)
    with pytest.raises(KeyStoreError, match="cannot be decrypted"):
        SecretBox(load_master_secret(other)).open(sealed)
    (tmp_path / "secret.key").write_text("short")
    with pytest.raises(KeyStoreError, match="corrupt"):
        load_master_secret(tmp_path)


async def test_ready_fails_when_the_schema_is_behind(api: ApiClient) -> None:
    assert (await api.call("GET", "/health/ready", None)).status == 200
    engine = api.client.app[keys.ENGINE]
    async with engine.begin() as conn:
        saved = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        await conn.execute(text("DELETE FROM alembic_version"))
        await conn.execute(text("INSERT INTO alembic_version VALUES ('older')"))
    try:
        resp = await api.call("GET", "/health/ready", None)
        assert resp.status == 503 and "vms-server migrate" in (await resp.json())["error"]["message"]
    finally:  # the PostgreSQL test database is shared by the whole run
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM alembic_version"))
            for version in saved:
                await conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": version})


async def test_detailed_health_reports_components(api: ApiClient) -> None:
    report = await api.ok("GET", "/health/detailed", Role.SUPERVISOR)
    names = {c["name"]: c for c in report["components"]}
    assert names["database"]["ok"] and names["database"]["value"] >= 0
    assert names["licence"]["detail"].startswith("no licence imported")
    recording = names["recording"]
    assert recording["ok"] and recording["detail"] == "0 of 0 cameras recording, 0 of 0 streams online"
    assert report["status"] in ("ok", "degraded") and report["uptime_s"] >= 0


async def test_ip_allowlist_blocks_other_addresses_but_not_probes(tmp_path: Path, db_url: str,
                                                                   aiohttp_client: object) -> None:
    from tests.conftest import make_settings
    from vms_server.app import create_app

    settings = make_settings(tmp_path / "d", db_url, security={"ip_allowlist": ["192.0.2.0/24"]})
    client = await aiohttp_client(create_app(settings))  # type: ignore[operator]
    resp = await client.post("/api/v1/auth/login", json={"username": "a", "password": "b"})
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "ip_not_allowed"
    assert (await client.get("/health/live")).status == 200


def test_master_secret_in_an_os_keyring(tmp_path: Path) -> None:
    """Where the OS has a keyring, the secret can live there instead of a file (none on this server, so the
    test installs a minimal in-memory backend through keyring's own plug-in interface)."""
    import keyring
    from keyring.backend import KeyringBackend

    class MemoryKeyring(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def __init__(self) -> None:
            super().__init__()
            self.items: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.items.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.items[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            self.items.pop((service, username), None)

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        create_master_secret(tmp_path, "keyring")
        assert not (tmp_path / "secret.key").exists() and len(backend.items) == 1
        assert len(load_master_secret(tmp_path, "keyring")) == 32
        with pytest.raises(KeyStoreError, match="already exists"):
            create_master_secret(tmp_path, "keyring")
        with pytest.raises(KeyStoreError, match="no master secret"):
            load_master_secret(tmp_path / "elsewhere", "keyring")
    finally:
        keyring.set_keyring(previous)
