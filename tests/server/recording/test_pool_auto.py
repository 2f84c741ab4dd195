"""`recording.ingest_workers = "auto"` (issue 22): one ingest worker process per core, at most
`recording.ingest_workers_max`; the default stays 0 (no worker process). Read from the TOML file and the
environment as an operator writes it, and started by the server."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import seed
from tests.server.helpers import ApiClient
from tests.server.recording.conftest import recording_settings
from vms_server.recording.config import RecordingSettings
from vms_server.recording.keys import RECORDER
from vms_server.settings import SettingsError, load_settings


def test_auto_is_one_per_core_up_to_the_cap() -> None:
    assert RecordingSettings().ingest_workers == 0 and RecordingSettings().ingest_worker_count() == 0
    assert RecordingSettings(ingest_workers=3).ingest_worker_count(cores=64) == 3  # a number is kept as it is
    auto = RecordingSettings(ingest_workers="auto", ingest_workers_max=8)
    assert [auto.ingest_worker_count(cores=n) for n in (1, 2, 8, 64)] == [1, 2, 8, 8]
    # Without `cores`: the cores this process may run on.
    mine = len(os.sched_getaffinity(0))
    assert RecordingSettings(ingest_workers="auto").ingest_worker_count() == min(mine, 16)


def test_auto_from_the_file_and_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "server.toml"
    config.write_text('[recording]\ningest_workers = "auto"\ningest_workers_max = 4\n')
    settings = load_settings(config, data_dir=tmp_path)
    assert settings.recording.ingest_workers == "auto" and settings.recording.ingest_worker_count(cores=32) == 4
    monkeypatch.setenv("VMS_RECORDING__INGEST_WORKERS", "2")  # the environment wins over the file
    assert load_settings(config, data_dir=tmp_path).recording.ingest_workers == 2
    for bad in ("many", "-1", "257"):
        monkeypatch.setenv("VMS_RECORDING__INGEST_WORKERS", bad)
        with pytest.raises(SettingsError, match=r"recording\.ingest_workers\b"):
            load_settings(config, data_dir=tmp_path)
    monkeypatch.delenv("VMS_RECORDING__INGEST_WORKERS")
    config.write_text("[recording]\ningest_workers_max = 0\n")
    with pytest.raises(SettingsError, match=r"recording\.ingest_workers_max"):
        load_settings(config, data_dir=tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_the_server_starts_as_many_workers_as_auto_resolves_to(
        tmp_path: Path, sqlite_url: str, aiohttp_client: Any) -> None:
    from vms_server.app import create_app

    settings = recording_settings(tmp_path, sqlite_url, ingest_workers="auto", ingest_workers_max=1)
    api = ApiClient(await aiohttp_client(create_app(settings)), await seed(settings))
    pool = api.client.app[RECORDER].pool
    assert pool is not None and len(pool.pool.pids()) == 1 and os.getpid() not in pool.pool.pids()
