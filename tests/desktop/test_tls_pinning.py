"""The desktop client against a real server in `server.tls.mode = self_signed` (issue #18).

The server listens on 127.0.0.2, a loopback address its certificate does not name (it names localhost and
127.0.0.1 only): a pinned certificate is trusted for what it is, so the host name must not matter. Every
request the server answers is noted, to show that nothing, least of all a password, reaches a server whose
certificate is not trusted yet.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pytestqt.qtbot import QtBot

from tests.conftest import PASSWORD, make_settings, seed
from tests.desktop.conftest import MemoryKeyring, sim_config, wait_until
from tests.server.helpers import totp_now
from vms_camsim.handle import SimulatorHandle
from vms_common.auth.roles import Role
from vms_desktop.client.api import VmsClient, normalise_address
from vms_desktop.client.credentials import CredentialStore
from vms_desktop.client.hub import HubClient
from vms_desktop.client.tls import PinStore, normalise_fingerprint, stdlib_context
from vms_desktop.login.dialogs.login_dialog import LoginDialog
from vms_desktop.video.frames import FrameSink
from vms_desktop.video.live import LiveFeed
from vms_server.api.keys import HUB
from vms_server.app import create_app
from vms_server.security.tls import ensure_certificate, server_context

HOST = "127.0.0.2"
WRONG = ":".join(["AB"] * 32)


class TlsServer:
    def __init__(self, app: web.Application, seeded: Any, fingerprint: str, base_url: str) -> None:
        self.app = app
        self.seeded = seeded
        self.fingerprint = fingerprint  # what `vms-server tls fingerprint` prints
        self.base_url = base_url
        self.answered: list[str] = []


@pytest.fixture
async def tls_server(tmp_path: Path, db_url: str) -> AsyncIterator[TlsServer]:
    settings = make_settings(tmp_path / "data", db_url, server={"tls": {"mode": "self_signed"}},
                             licensing={"unlicensed_camera_limit": 8})
    fingerprint = ensure_certificate(settings.server.tls, settings.data_dir)
    context = server_context(settings.server.tls, settings.data_dir)
    assert fingerprint is not None and context is not None
    seeded = await seed(settings)
    app = create_app(settings)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    server = TlsServer(app, seeded, fingerprint, "")

    async def note(request: web.Request, _response: web.StreamResponse) -> None:
        server.answered.append(request.path)

    app.on_response_prepare.append(note)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0, ssl_context=context)
    await site.start()
    port = next(address[1] for address in runner.addresses if address[0] == HOST)
    server.base_url = f"https://{HOST}:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


def _dialog(qtbot: QtBot, server: TlsServer, pins: PinStore, keyring: MemoryKeyring, role: Role) -> LoginDialog:
    dialog = LoginDialog(CredentialStore(keyring), pins=pins)
    qtbot.addWidget(dialog)
    username, secret = server.seeded.users[role]
    dialog.server.setEditText(server.base_url)
    dialog.username.setText(username)
    dialog.password.setText(PASSWORD)
    dialog.totp.setText(totp_now(secret))
    return dialog


async def _logged_in(dialog: LoginDialog) -> VmsClient:
    got: list[VmsClient] = []
    dialog.sig_logged_in.connect(got.append)
    dialog.login_button.click()
    await wait_until(lambda: bool(got), 20, dialog.message.text())
    return got[0]


async def test_pinned_login_and_push_channel_over_wss(qtbot: QtBot, tls_server: TlsServer, tmp_path: Path,
                                                      memory_keyring: MemoryKeyring) -> None:
    pins = PinStore(tmp_path / "pins.json")
    pins.set(tls_server.base_url, tls_server.fingerprint.replace(":", "").lower())  # as `--pin` pastes it
    dialog = _dialog(qtbot, tls_server, pins, memory_keyring, Role.VIEWER)
    client = await _logged_in(dialog)
    hub = HubClient(client)
    try:
        assert client.pin == tls_server.fingerprint and not dialog.trust_button.isVisible()
        assert (await client.request("GET", "/api/v1/auth/me"))["username"] == "viewer1"
        received: list[tuple[str, dict[str, Any]]] = []
        hub.sig_message.connect(lambda kind, data: received.append((kind, data)))
        hub.start()
        await wait_until(lambda: hub.connected, 20, "push channel connected over wss")
        await wait_until(lambda: tls_server.app[HUB].publish(
            "event.created", {"id": "tls-1"}, site_id=tls_server.seeded.site_id) > 0, 10, "subscribed")
        await wait_until(lambda: ("event.created", {"id": "tls-1"}) in received, 10, f"event ({received})")
        assert "/api/v1/ws" in tls_server.answered
    finally:
        await hub.stop()
        await client.close()


async def test_a_changed_certificate_is_refused_before_the_password_goes_out(
        qtbot: QtBot, tls_server: TlsServer, tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    pins = PinStore(tmp_path / "pins.json")
    pins.set(tls_server.base_url, WRONG)
    dialog = _dialog(qtbot, tls_server, pins, memory_keyring, Role.VIEWER)
    dialog.login_button.click()
    await wait_until(lambda: "intercepting" in dialog.message.text(), 20, dialog.message.text())
    text = dialog.message.text()
    assert "has changed" in text and tls_server.fingerprint in text and WRONG in text
    assert tls_server.answered == []  # not one request reached the server
    assert pins.get(tls_server.base_url) == WRONG and not dialog.trust_button.isVisible()  # nothing re-pinned
    assert dialog.client is not None
    await dialog.client.close()
    # The playback stream's own HTTP client checks the same pin.
    health = f"{tls_server.base_url}/health"

    def fetch(pin: str) -> int:
        with urllib.request.urlopen(health, timeout=10, context=stdlib_context(pin)) as resp:
            return int(resp.status)

    with pytest.raises((ssl.SSLError, urllib.error.URLError)):
        await asyncio.to_thread(fetch, WRONG)
    assert tls_server.answered == []
    assert await asyncio.to_thread(fetch, tls_server.fingerprint) == 200


async def test_first_use_shows_the_fingerprint_and_the_next_start_uses_the_pin(
        qtbot: QtBot, tls_server: TlsServer, tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    pins = PinStore(tmp_path / "pins.json")
    dialog = _dialog(qtbot, tls_server, pins, memory_keyring, Role.VIEWER)
    dialog.remember.setChecked(True)
    got: list[VmsClient] = []
    dialog.sig_logged_in.connect(got.append)
    dialog.login_button.click()
    await wait_until(lambda: dialog.trust_button.isVisibleTo(dialog), 20, dialog.message.text())
    assert tls_server.fingerprint in dialog.message.text() and "vms-server tls fingerprint" in dialog.message.text()
    assert dialog.offered_fingerprint == tls_server.fingerprint
    assert pins.get(tls_server.base_url) is None and tls_server.answered == []  # asked, nothing sent or stored
    dialog.trust_button.click()
    await wait_until(lambda: bool(got), 20, dialog.message.text())
    first = got[0]
    assert pins.get(tls_server.base_url) == tls_server.fingerprint == first.pin
    assert PinStore(tmp_path / "pins.json").get(tls_server.base_url) == tls_server.fingerprint  # on disk
    # The next start: the remembered session resumes through the pin, without asking anything.
    again = LoginDialog(CredentialStore(memory_keyring), pins=PinStore(tmp_path / "pins.json"))
    qtbot.addWidget(again)
    resumed = await again.try_resume()
    assert resumed is not None, again.message.text()
    assert resumed.pin == tls_server.fingerprint and not again.trust_button.isVisibleTo(again)
    assert (await resumed.request("GET", "/api/v1/auth/me"))["username"] == "viewer1"
    # A password login of another operator on this computer does not ask either.
    other = _dialog(qtbot, tls_server, PinStore(tmp_path / "pins.json"), MemoryKeyring(), Role.ADMIN)
    admin = await _logged_in(other)
    assert admin.pin == tls_server.fingerprint and not other.trust_button.isVisibleTo(other)
    for client in (first, resumed, admin):
        await client.close()


def test_fingerprints_in_any_form_a_person_pastes() -> None:
    canonical = ":".join(["0A"] * 32)
    assert normalise_fingerprint("0a" * 32) == canonical
    assert normalise_fingerprint(f"SHA256:{canonical.lower()}") == canonical
    with pytest.raises(ValueError, match="64 hex digits"):
        normalise_fingerprint("0A:0B")


@pytest.mark.slow
async def test_live_video_over_the_tls_server(qtbot: QtBot, tls_server: TlsServer, tmp_path: Path,
                                              memory_keyring: MemoryKeyring) -> None:
    pins = PinStore(tmp_path / "pins.json")
    pins.set(tls_server.base_url, tls_server.fingerprint)
    client = await _logged_in(_dialog(qtbot, tls_server, pins, memory_keyring, Role.ADMIN))
    live: LiveFeed | None = None
    try:
        async with SimulatorHandle.start(sim_config(["cam1"])) as sim:
            camera = await client.request("POST", "/api/v1/cameras", {
                "name": "cam1", "site_id": str(tls_server.seeded.site_id),
                "credentials": {"method": "digest", "username": "admin", "secret": "admin"},
                "streams": [{"role": "main", "rtsp_url": sim.rtsp_url("cam1", "main")},
                            {"role": "sub", "rtsp_url": sim.rtsp_url("cam1", "sub")}]})
            live = LiveFeed(client, str(camera["id"]), "sub", FrameSink())
            live.start()
            await wait_until(lambda: live is not None and live.sink.stats.decoded >= 3, 40,
                             f"live frames over wss ({live.state})")
            assert live.state == "playing"
    finally:
        if live is not None:
            await live.stop()
        await client.close()


def test_pin_option_seeds_the_pin_for_scripted_installs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vms_desktop.__main__ import _parse

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    canonical = ":".join(["5C"] * 32)
    args = _parse(["--server", "vms.site.lan:8443", "--pin", "5c" * 32])
    assert args.server == "https://vms.site.lan:8443"  # a pin means https
    pins = PinStore(tmp_path / "vms-desktop" / "pins.json")
    assert pins.get("https://vms.site.lan:8443") == canonical
    assert _parse(["--server", "https://vms.site.lan:8443", "--forget-pin"]).server == "https://vms.site.lan:8443"
    assert pins.get("https://vms.site.lan:8443") is None
    with pytest.raises(SystemExit):
        _parse(["--pin", canonical])  # which server?
    with pytest.raises(SystemExit):
        _parse(["--server", "vms.site.lan:8443", "--pin", "not-a-fingerprint"])
    assert _parse(["--server", "vms.site.lan:8080"]).server == "vms.site.lan:8080"  # no pin: left as typed
    assert normalise_address("vms.site.lan:8080") == "https://vms.site.lan:8080"  # TLS unless http:// is typed
    assert normalise_address("http://vms.site.lan") == "http://vms.site.lan:8080"
    with pytest.raises(SystemExit):
        _parse(["--server", "http://vms.site.lan:8080", "--pin", canonical])  # a pin on plain HTTP: refused


async def test_streams_with_a_wrong_pin_say_the_certificate_changed(qtbot: QtBot, tls_server: TlsServer) -> None:
    from vms_desktop.client.api import Tokens
    from vms_desktop.video.messages import CERTIFICATE_CHANGED, playback_error

    client = VmsClient(tls_server.base_url, pin=WRONG)
    client.tokens = Tokens("not-a-jwt", "")  # never sent: the handshake is refused first
    live = LiveFeed(client, "00000000-0000-0000-0000-000000000001", "sub", FrameSink())
    messages: list[str] = []
    live.sig_status.connect(lambda _state, message: messages.append(message))
    live.start()
    try:
        await wait_until(lambda: CERTIFICATE_CHANGED in messages, 20, f"live tile message ({messages})")
    finally:
        await live.stop()
        await client.close()
    assert tls_server.answered == []

    def open_playback() -> tuple[str, str]:
        try:
            urllib.request.urlopen(f"{tls_server.base_url}/health", timeout=10,
                                   context=stdlib_context(WRONG)).close()
        except OSError as exc:
            return playback_error(exc)
        raise AssertionError("a wrong pin was accepted")

    assert await asyncio.to_thread(open_playback) == ("failed", CERTIFICATE_CHANGED)
