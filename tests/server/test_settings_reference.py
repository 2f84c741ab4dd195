"""docs/settings.md lists every server setting with the default the code has (the side doors that tests used
for analytics and cloud-sync tuning are settings sections now, so they belong in it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vms_server.settings import load_settings
from vms_server.settings_reference import markdown_table


def test_the_settings_reference_in_the_docs_is_current() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "settings.md").read_text()
    table = markdown_table()
    assert "`analytics.segment_s`" in table and "`cloud_sync.batch_size`" in table
    assert table in doc, "regenerate docs/settings.md: python -m vms_server.settings_reference"


def test_analytics_and_cloud_sync_come_from_the_file_and_the_environment(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "server.toml"
    config.write_text('[analytics]\nqueue = "redis"\nsegment_s = 2.5\n[cloud_sync]\nbatch_size = 50\n')
    monkeypatch.setenv("VMS_CLOUD_SYNC__HEARTBEAT_S", "5")
    settings = load_settings(config)
    assert settings.analytics.queue == "redis" and settings.analytics.segment_s == 2.5
    assert settings.cloud_sync.batch_size == 50 and settings.cloud_sync.heartbeat_s == 5.0


@pytest.mark.parametrize("packaged", ["installers/deb/server/server.toml", "installers/windows/server.toml"])
def test_installed_configurations_load_and_announce_the_server(packaged: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """install.md promises desktops find an installed server on the LAN: the shipped files turn mDNS on (the model
    leaves it off for tests and developers' runs)."""
    for name in ("VMS_DATA_DIR", "VMS_DISCOVERY__ADVERTISE"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings(None).discovery.advertise is False
    settings = load_settings(Path(__file__).parents[2] / packaged)
    assert settings.discovery.advertise is True and settings.server.host == "0.0.0.0"
