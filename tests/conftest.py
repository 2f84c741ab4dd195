"""Shared fixtures: real databases (SQLite and PostgreSQL), a real app, real users with real TOTP.

Every test that takes `settings` (directly or through `api`) runs once per database back end.
PostgreSQL comes from VMS_TEST_PG_URL (default: the server on 127.0.0.1:5432); one throw-away database
is created per test run, migrated once, and emptied between tests.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from vms_common.auth.roles import Role
from vms_server.db.engine import create_engine
from vms_server.db.migrate import upgrade
from vms_server.db.models import Base
from vms_server.security.keystore import create_master_secret
from vms_server.settings import Settings, load_settings

PG_ADMIN_URL = os.environ.get(
    "VMS_TEST_PG_URL", "postgresql+asyncpg://vms_test:vms_test@127.0.0.1:5432/postgres"
)
PASSWORD = "Correct-Horse-42"
# The server serves HTTPS by default (a self-signed certificate, issue #18). Tests that are not about TLS talk
# plain HTTP to the servers they start, in process or as `vms-server run` children (which inherit this);
# the TLS tests set the mode themselves (an explicit setting or environment beats this default).
os.environ.setdefault("VMS_SERVER__TLS__MODE", "off")
os.environ.setdefault("VMS_CLOUD_SERVER__TLS__MODE", "off")  # the cloud backend likewise


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


async def _create_pg_database(name: str) -> str:
    admin = create_engine(PG_ADMIN_URL)
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    return url


async def _drop_pg_database(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL)
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    name = f"vms_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        url = asyncio.run(_create_pg_database(name))
    except OSError as exc:
        pytest.fail(f"PostgreSQL not reachable at {PG_ADMIN_URL} ({exc}); scripts/test.sh starts it")
    yield url
    asyncio.run(_drop_pg_database(name))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "vms.db"

    async def build() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(build())
    return path


async def _truncate(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        await conn.execute(text(f"TRUNCATE {names} CASCADE"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each back end."""
    if request.param == "sqlite":
        target = tmp_path / "vms.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    url: str = request.getfixturevalue("pg_url")
    yield url
    asyncio.run(_truncate(url))


def make_settings(data_dir: Path, db_url: str, **overrides: object) -> Settings:
    """Settings for tests: cheap argon2 (hash strength is not under test here), MFA on as in production."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if not (data_dir / "secret.key").exists():
        create_master_secret(data_dir)
    base: dict[str, object] = {
        "data_dir": data_dir,
        "database": {"url": db_url},
        "security": {"argon2": {"time_cost": 1, "memory_kib": 64, "parallelism": 1}},
        "logging": {"format": "text"},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}  # type: ignore[dict-item]
        else:
            base[key] = value
    return load_settings(None, **base)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path / "data", db_url)


class Seeded:
    """Users of each role (TOTP enrolled) and a site, created through the real service code."""

    def __init__(self) -> None:
        self.customer_id = uuid.uuid4()
        self.site_id = uuid.uuid4()
        self.users: dict[Role, tuple[str, str]] = {}  # role -> (username, totp secret)


async def seed(settings: Settings) -> Seeded:
    from vms_common.auth.passwords import Passwords
    from vms_server.audit.service import SYSTEM
    from vms_server.auth.models import User
    from vms_server.auth.schemas import UserCreate
    from vms_server.auth.users import create_user
    from vms_server.db.engine import session_factory
    from vms_server.org.models import Customer, Site
    from vms_server.security.keystore import SecretBox, load_master_secret

    seeded = Seeded()
    box = SecretBox(load_master_secret(settings.data_dir))
    engine = create_engine(settings.database_url)
    async with session_factory(engine).begin() as session:
        session.add(Customer(id=seeded.customer_id, name="Test customer"))
        await session.flush()
        session.add(Site(id=seeded.site_id, customer_id=seeded.customer_id, name="HQ"))
        passwords = Passwords(settings.security.argon2)
        for role in Role:
            name = f"{role.value}1"
            user: User = await create_user(session, passwords, seeded.customer_id,
                                           UserCreate(username=name, password=PASSWORD, role=role), SYSTEM)
            secret = pyotp.random_base32()
            user.totp_secret_sealed = box.seal(secret)
            user.totp_enabled = True
            seeded.users[role] = (name, secret)
    await engine.dispose()
    return seeded


@pytest.fixture
async def api(settings: Settings, aiohttp_client: object) -> AsyncIterator[object]:
    from tests.server.helpers import ApiClient
    from vms_server.app import create_app

    seeded = await seed(settings)
    client = await aiohttp_client(create_app(settings))  # type: ignore[operator]
    yield ApiClient(client, seeded)
