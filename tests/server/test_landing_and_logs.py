"""What site IT sees on the first day: the landing page at `/`, the address in the start-up log, successful
logins, MFA enrolments and password changes in the log (never a secret), and the clock line of the health
report compared with an NTP server (a fake one on loopback) only when one is configured."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pyotp
import pytest

from tests.server.helpers import ApiClient
from tests.server.test_cli import FAST_HASH, vms
from vms_common import __version__
from vms_common.auth.roles import Role
from vms_server import keys
from vms_server.api.clock import NTP_EPOCH, clock_component
from vms_server.settings import ServerSection


async def test_landing_page_names_the_server_and_links_the_docs(api: ApiClient) -> None:
    resp = await api.call("GET", "/", None)
    page = await resp.text()
    assert resp.status == 200 and resp.content_type == "text/html"
    assert __version__ in page and ">ready<" in page and 'href="/docs"' in page and "VMS on " in page


async def test_the_landing_page_offers_the_client_installers_site_it_put_there(api: ApiClient) -> None:
    page = await (await api.call("GET", "/", None)).text()
    folder = api.client.app[keys.SETTINGS].data_dir / "downloads"
    assert "No installer is offered here yet" in page and str(folder) in page
    folder.mkdir()
    package = os.urandom(300_000)
    (folder / "vms-desktop_0.1.0-1_amd64.deb").write_bytes(package)
    (folder / "notes.txt").write_text("not an installer")
    (folder / "passwd.deb").symlink_to("/etc/passwd")  # a link is never followed out of the folder
    (folder / "sub.msi").mkdir()
    page = await (await api.call("GET", "/", None)).text()
    assert 'href="/downloads/vms-desktop_0.1.0-1_amd64.deb"' in page
    assert hashlib.sha256(package).hexdigest() in page and "0.3 MB" in page
    assert "notes.txt" not in page and "passwd" not in page and "sub.msi" not in page
    resp = await api.call("GET", "/downloads/vms-desktop_0.1.0-1_amd64.deb", None)  # no login needed
    assert resp.status == 200 and await resp.read() == package
    assert resp.headers["Content-Disposition"] == 'attachment; filename="vms-desktop_0.1.0-1_amd64.deb"'
    for name in ("notes.txt", "passwd.deb", "sub.msi", "..%2Fvms.db", "missing.deb"):
        resp = await api.call("GET", f"/downloads/{name}", None)
        assert resp.status == 404, name
        assert "root:" not in await resp.text()


async def test_logins_enrolments_and_password_changes_are_logged_without_secrets(
        api: ApiClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    await api.login(Role.ADMIN)
    created = await api.ok("POST", "/api/v1/users", status=201,
                           json={"username": "newbie", "password": "First-Pass-123", "role": "viewer"})
    await api.ok("PATCH", f"/api/v1/users/{created['id']}", json={"password": "Second-Pass-456"})
    client = api.client
    body = await (await client.post("/api/v1/auth/login", json={"username": "newbie",
                                                                  "password": "Second-Pass-456"})).json()
    enrolment = await (await client.post("/api/v1/auth/mfa/enroll", json={"mfa_token": body["mfa_token"]})).json()
    resp = await client.post("/api/v1/auth/mfa/verify", json={
        "mfa_token": body["mfa_token"], "code": pyotp.TOTP(enrolment["secret"]).now()})
    assert resp.status == 200

    def lines(message: str) -> list[dict[str, Any]]:
        return [r.__dict__ for r in caplog.records if r.getMessage() == message]

    assert {(r["username"], r["method"]) for r in lines("login")} >= {("admin1", "password+totp"),
                                                                       ("newbie", "password+totp-enrolment")}
    assert [r["username"] for r in lines("MFA enrolled")] == ["newbie"]
    assert [(r["username"], r["by"]) for r in lines("password changed")] == [("newbie", "admin1")]
    everything = " ".join(str(r.__dict__) for r in caplog.records)
    for secret in ("First-Pass-123", "Second-Pass-456", enrolment["secret"], body["mfa_token"]):
        assert secret not in everything


class FakeNtp(asyncio.DatagramProtocol):
    """Answers SNTP requests with this machine's time shifted by `shift` seconds (stratum 2)."""

    def __init__(self, shift: float) -> None:
        self.shift = shift
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        now = time.time() + self.shift + NTP_EPOCH
        stamp = struct.pack("!II", int(now), int((now % 1) * 2**32))
        assert self.transport is not None
        self.transport.sendto(bytes([0x1C, 2]) + bytes(30) + stamp + stamp, addr)


async def _clock_against(shift: float) -> Any:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: FakeNtp(shift), local_addr=("127.0.0.1", 0))
    try:
        port = transport.get_extra_info("sockname")[1]
        return await clock_component(ServerSection(ntp_server=f"127.0.0.1:{port}", max_clock_drift_s=10))
    finally:
        transport.close()


async def test_clock_is_compared_only_with_a_configured_ntp_server() -> None:
    unchecked = await clock_component(ServerSection())
    assert unchecked.ok and "not checked" in unchecked.detail
    in_step = await _clock_against(0.0)
    assert in_step.ok and in_step.value is not None and abs(in_step.value) < 2
    drifting = await _clock_against(-120.0)
    assert not drifting.ok and drifting.value is not None and drifting.value < -100
    assert "authenticator codes" in drifting.detail
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    silent = await clock_component(ServerSection(ntp_server=f"127.0.0.1:{port}"))
    assert not silent.ok and "cannot check" in silent.detail


async def test_detailed_health_has_a_clock_line(api: ApiClient) -> None:
    report = await api.ok("GET", "/health/detailed", Role.SUPERVISOR)
    clock = next(c for c in report["components"] if c["name"] == "clock")
    assert clock["ok"] and "not checked" in clock["detail"]


def test_start_up_log_states_where_the_server_listens(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert vms(data, "init", "--password", "Initial-Pass-1").returncode == 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, **FAST_HASH, "VMS_DATA_DIR": str(data), "VMS_RECORDING__ENABLED": "false"}
    env.pop("VMS_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "vms_server", "run", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    page = resp.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
                time.sleep(0.3)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert f"127.0.0.1:{port}" in page
    assert f"listening on http://127.0.0.1:{port}" in err and f"starting version {__version__}" in err, err[-2000:]
