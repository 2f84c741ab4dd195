"""Administration > Users, Licence, Audit log and Health through the real widgets against a real server: a user
created in the dialog is listed and can log in (enrolling TOTP), is disabled and can no longer log in; the
screens each role gets; server refusals shown as messages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from pytestqt.qtbot import QtBot

from tests.desktop.admin_helpers import LIMIT_S, press_ok, running_desk
from tests.desktop.conftest import Desk, wait_until
from vms_common.auth.roles import Role
from vms_desktop.admin.dialogs.user_dialog import UserDialog
from vms_desktop.admin.models.admin_api import AdminApi
from vms_desktop.admin.widgets.admin_window import AdminWindow
from vms_desktop.admin.widgets.audit_page import AuditPage
from vms_desktop.admin.widgets.licence_page import LicencePage
from vms_desktop.admin.widgets.users_page import UsersPage
from vms_desktop.client.api import AuthFailed, Tokens, VmsClient
from vms_desktop.health.widgets.health_page import HealthPage
from vms_desktop.main_window import MainWindow
from vms_desktop.store import LocalStore

pytestmark = pytest.mark.slow
NEW_PASSWORD = "Night-Shift-Operator-7"


@pytest.fixture
async def desk(settings: Any, aiohttp_client: Any) -> AsyncIterator[Desk]:
    async with running_desk(settings, aiohttp_client, ["cam1"]) as desk:
        yield desk


async def client_as(desk: Desk, role: Role) -> VmsClient:
    client = VmsClient(desk.base_url)
    tokens = await desk.api.login(role)
    client.tokens = Tokens(tokens["access_token"], tokens["refresh_token"])
    client.username = desk.api.seeded.users[role][0]
    return client


async def log_in_enrolling(desk: Desk, username: str, password: str) -> VmsClient:
    """A first login as the client's login dialog does it: password, TOTP enrolment, code."""
    client = VmsClient(desk.base_url)
    result = await client.login(username, password)
    assert result.status == "mfa_enrollment_required" and result.mfa_token
    secret, _ = await client.enroll_mfa(result.mfa_token)
    result = await client.verify_mfa(result.mfa_token, pyotp.TOTP(secret).now())
    assert result.status == "ok"
    return client




async def test_create_user_log_in_as_it_disable(qtbot: QtBot, desk: Desk) -> None:
    window = AdminWindow(AdminApi(desk.client))
    qtbot.addWidget(window)
    assert list(window.pages) == ["Cameras", "Recording", "Users", "Configuration", "Licence", "Audit log",
                                   "Health", "Camera controls", "Analytics"]
    page = window.show_page("Users")
    assert isinstance(page, UsersPage)
    await page.refresh()
    await page.runner.drain()
    assert {"admin1", "supervisor1", "viewer1"} <= {u.username for u in page.model.rows}
    page.new_button.click()
    dialog = page.dialog
    assert isinstance(dialog, UserDialog)
    dialog.username.setText("night.op")
    dialog.display_name.setText("Night operator")
    dialog.role.setCurrentText("supervisor")
    dialog.password.setText("short")  # the server's password rule refuses it; the dialog stays open
    await press_ok(dialog)
    assert dialog.saved is None and dialog.message.text().startswith("Refused:") and dialog.isVisible()
    dialog.password.setText(NEW_PASSWORD)
    dialog.set_sites([str(desk.api.seeded.site_id)])
    await press_ok(dialog)
    assert dialog.saved is not None and dialog.saved.role == "supervisor"
    await wait_until(lambda: page.select("night.op"), LIMIT_S, "the new user listed")
    row = page.selected()
    assert row is not None and row.site_ids == (str(desk.api.seeded.site_id),) and not row.mfa_enabled
    # Log in as it: enrol TOTP, and the token carries the role given in the dialog.
    night = await log_in_enrolling(desk, "night.op", NEW_PASSWORD)
    assert night.role == "supervisor"
    await night.close()
    # Change the role, then disable: the login is refused.
    page.edit_button.click()
    dialog = page.dialog
    assert isinstance(dialog, UserDialog) and dialog.user is not None
    dialog.role.setCurrentText("viewer")
    await press_ok(dialog)
    await wait_until(lambda: page.select("night.op") and page.selected().role == "viewer",  # type: ignore[union-attr]
                     LIMIT_S, "role changed")
    page.disable_button.click()
    await wait_until(lambda: page.runner.idle and page.select("night.op") and page.selected().disabled,  # type: ignore[union-attr]
                     LIMIT_S, "disabled")
    users = {u["username"]: u for u in (await desk.api.ok("GET", "/api/v1/users"))["items"]}
    assert users["night.op"]["disabled"] and users["night.op"]["role"] == "viewer"
    again = VmsClient(desk.base_url)
    with pytest.raises(AuthFailed):
        await again.login("night.op", NEW_PASSWORD)
    await again.close()
    # Reset MFA of a user who has it.
    assert page.select("viewer1")
    page.mfa_button.click()
    await wait_until(lambda: page.runner.idle and "MFA of 'viewer1' reset" in page.message.text(), LIMIT_S, "reset")
    users = {u["username"]: u for u in (await desk.api.ok("GET", "/api/v1/users"))["items"]}
    assert not users["viewer1"]["mfa_enabled"]
    # The audit log shows who did it; the chain verifies.
    audit = window.show_page("Audit log")
    assert isinstance(audit, AuditPage)
    audit.action.setText("user.")
    await audit.refresh()
    actions = [(e["actor"], e["action"]) for e in audit.model.rows]
    assert ("admin1", "user.created") in actions, actions
    assert all(action.startswith("user.") for _, action in actions)
    assert (await audit.verify() or {}).get("intact") and "intact" in audit.message.text()
    window.hide()
    await window.drain()


async def test_licence_and_health(qtbot: QtBot, desk: Desk) -> None:
    window = AdminWindow(AdminApi(desk.client))
    qtbot.addWidget(window)
    licence = window.show_page("Licence")
    assert isinstance(licence, LicencePage)
    await licence.refresh()
    assert licence.values["state"].text() == "unlicensed" and licence.values["server_id"].text() not in ("", "-")
    assert licence.cameras.value() == 1 and licence.cameras.maximum() == 64
    health = window.show_page("Health")
    assert isinstance(health, HealthPage)

    async def streaming() -> bool:
        await health.refresh()
        cameras = health.snapshot.cameras if health.snapshot else ()
        return bool(cameras) and cameras[0].state == "online" and cameras[0].fps > 0

    for _ in range(LIMIT_S * 2):  # the stream's rate is measured over its first status interval
        if await streaming():
            break
        await asyncio.sleep(0.5)
    assert health.snapshot is not None and health.snapshot.online == 1, health.snapshot
    assert {c.name for c in health.snapshot.components} >= {"database", "data_disk", "licence"}
    assert "cameras online 1 of 1" in health.summary.text()
    services = {r.name: r for r in health.snapshot.services if r.kind == "service"}
    assert services and all(r.ok == (r.state in ("ok", "passive")) for r in services.values()), services
    row = health.cameras.rows[0]
    assert row.name == "cam1" and row.fps > 0 and row.bitrate_kbps > 0
    # A watchdog incident is listed open and resolved from the screen.
    from vms_server.watchdog.incidents import Draft, IncidentType, Severity
    from vms_server.watchdog.keys import WATCHDOG

    draft = Draft(IncidentType.SERVICE_FAILURE, Severity.HIGH, 1, 0, "", "test service stalled", service="test")
    incident = await desk.api.client.app[WATCHDOG].incidents.report(draft)
    await health.refresh()
    assert "1 open incident" in health.summary.text()
    health.incident_table.selectRow(health.incidents.find(lambda i: i["id"] == str(incident.id)))
    health.resolve_button.click()
    await wait_until(lambda: health.runner.idle and "Incident resolved" in health.message.text(), LIMIT_S, "resolved")
    assert (await desk.api.ok("GET", f"/api/v1/incidents/{incident.id}"))["state"] == "RESOLVED"
    assert "0 open incident" in health.summary.text()
    window.hide()
    await window.drain()


async def test_roles_see_only_their_screens_and_refusals_are_shown(qtbot: QtBot, desk: Desk,
                                                                  tmp_path: Path) -> None:
    supervisor = await client_as(desk, Role.SUPERVISOR)
    window = AdminWindow(AdminApi(supervisor))
    qtbot.addWidget(window)
    assert list(window.pages) == ["Users", "Configuration", "Licence", "Health", "Camera controls"]
    page = window.show_page("Users")
    assert isinstance(page, UsersPage)
    await page.refresh()
    await page.runner.drain()
    assert len(page.model.rows) >= 3 and not any(b.isVisibleTo(page) for b in page.admin_buttons)
    # The server refuses what the screens do not offer; the message says so.
    dialog = UserDialog(page.api, [], parent=page)
    dialog.username.setText("sneaky")
    dialog.password.setText(NEW_PASSWORD)
    await press_ok(dialog)
    assert dialog.message.text().startswith("Not allowed:"), dialog.message.text()
    window.hide()
    await window.drain()
    await supervisor.close()
    # A viewer's main window offers no administration at all.
    viewer = await client_as(desk, Role.VIEWER)
    main = MainWindow(viewer, LocalStore(tmp_path / "state.json"))
    qtbot.addWidget(main)
    assert not main.admin.offered and main.findChild(type(main.addToolBar("x")), "admin-toolbar") is None
    await main.shutdown()
    admin_main = MainWindow(await client_as(desk, Role.ADMIN), LocalStore(tmp_path / "state2.json"))
    qtbot.addWidget(admin_main)
    assert admin_main.admin.offered
    admin_main.commands.trigger("admin.open", "Licence")
    opened = admin_main.admin.window
    assert opened is not None and opened.isVisible() and opened.tabs.currentWidget() is opened.page("Licence")
    await admin_main.shutdown()


@pytest.fixture
def issuer() -> Any:
    from tests.server.licence_helpers import Issuer

    return Issuer()


@pytest.fixture
def licensed_settings(tmp_path: Path, db_url: str, issuer: Any) -> Any:
    from tests.conftest import make_settings

    return make_settings(tmp_path / "data", db_url, licensing={"unlicensed_camera_limit": 64,
                                                               "public_keys": [issuer.public]})


async def test_import_licence_file(qtbot: QtBot, licensed_settings: Any, aiohttp_client: Any, issuer: Any,
                                   tmp_path: Path) -> None:
    async with running_desk(licensed_settings, aiohttp_client, ["cam1"]) as desk:
        window = AdminWindow(AdminApi(desk.client))
        qtbot.addWidget(window)
        page = window.show_page("Licence")
        assert isinstance(page, LicencePage) and page.import_button.isVisibleTo(page)
        document = issuer.issue(max_cameras=5, licence_id="SITE-42").model_dump(mode="json")
        tampered = {**document, "terms": {**document["terms"], "max_cameras": 500}}
        (tmp_path / "tampered.json").write_text(json.dumps(tampered), encoding="utf-8")
        (tmp_path / "licence.json").write_text(json.dumps(document), encoding="utf-8")
        (tmp_path / "garbage.json").write_text("not json", encoding="utf-8")
        assert await page.import_file(tmp_path / "garbage.json") is None
        assert page.message.is_error and "Cannot read garbage.json" in page.message.text()
        assert await page.import_file(tmp_path / "tampered.json") is None
        assert page.message.text().startswith("Not allowed:") and "signature" in page.message.text()
        status = await page.import_file(tmp_path / "licence.json")
        assert status is not None and status["state"] == "valid"
        assert page.values["licence_id"].text() == "SITE-42" and page.cameras.maximum() == 5
        assert page.message.text().startswith("Licence SITE-42 imported")
        assert (await desk.api.ok("GET", "/api/v1/licence"))["max_cameras"] == 5
        window.hide()
        await window.drain()
