"""The cloud backend over HTTPS with its own self-signed certificate (issue #18), and an edge that pins it: the
fingerprint `vms-cloud tls fingerprint` prints is the certificate served; an edge enrols and syncs with that pin;
a wrong pin or none is refused with a reason site IT can act on, and nothing is sent over plain HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.conftest import APP_ROLE, make_cloud_settings, start_cloud
from vms_cloud_sync.cli import main
from vms_cloud_sync.protocol.sync import EnrolIn
from vms_common.tls import server_context
from vms_server.cloudsync import client as edge


async def test_an_edge_enrols_and_syncs_with_the_pinned_certificate(
        tmp_path: Path, cloud_db: tuple[str, str], cloud_settings: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_cloud_settings(tmp_path / "c", cloud_db, server={"tls": {"mode": "self_signed",
                                                                           "names": ["hq.example.com"]}})
    monkeypatch.setenv("VMS_CLOUD_DATABASE__URL", cloud_db[0])
    monkeypatch.setenv("VMS_CLOUD_DATABASE__ADMIN_URL", cloud_db[1])
    monkeypatch.setenv("VMS_CLOUD_DATABASE__APP_ROLE", APP_ROLE)
    monkeypatch.setenv("VMS_CLOUD_SERVER__TLS__MODE", "self_signed")
    assert await asyncio.to_thread(main, ["--data-dir", str(settings.data_dir), "tls", "fingerprint"]) == 0
    pin = capsys.readouterr().out.strip()
    assert len(pin.split(":")) == 32
    cloud = await start_cloud(settings, ssl=server_context(settings.server.tls, settings.data_dir), pin=pin)
    try:
        assert cloud.url.startswith("https://")
        _tenant, admin = await cloud.tenant("acme")
        token = (await cloud.ok("POST", "/api/v1/enrolment-tokens", admin, 201))["token"]
        body = EnrolIn(token=token, name="site-1")

        with pytest.raises(edge.CloudUnavailable, match="certificate not trusted"):
            await edge.enrol(cloud.url, body)  # no pin: the system CAs do not know a self-signed backend
        wrong = ":".join(["AB"] * 32)
        with pytest.raises(edge.CloudUnavailable, match="other than the pinned one"):
            await edge.enrol(cloud.url, body, wrong)
        with pytest.raises(edge.CloudUnavailable):
            await edge.enrol(cloud.url.replace("https://", "http://"), body, pin)  # no plain HTTP listener

        out = await edge.enrol(cloud.url, body, pin)  # the token was not spent by the refused attempts
        synced = edge.CloudClient(cloud.url, out.credential, pin)
        try:
            assert (await synced.settings()) is not None  # an authenticated edge call over the pinned TLS
        finally:
            await synced.close()
        moved = edge.CloudClient(cloud.url, out.credential, wrong)  # the backend's certificate changed
        try:
            with pytest.raises(edge.CloudUnavailable, match="enrol again"):
                await moved.settings()
        finally:
            await moved.close()
    finally:
        await cloud.client.close()


async def test_vms_cloud_tls_fingerprint_with_tls_off_is_a_clear_error(
        tmp_path: Path, cloud_db: tuple[str, str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VMS_CLOUD_DATABASE__URL", cloud_db[0])
    monkeypatch.setenv("VMS_CLOUD_DATABASE__ADMIN_URL", cloud_db[1])
    assert await asyncio.to_thread(main, ["--data-dir", str(tmp_path), "tls", "fingerprint"]) == 2
    assert "plain HTTP" in capsys.readouterr().err
