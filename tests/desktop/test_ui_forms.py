"""The administration dialogs are built from the Designer forms in `ui/forms/`: every form loads, every widget a
dialog asks for is there by name, and a form that lacks one (a rename in Designer) fails with the form's and the
widget's name rather than later on `None`. The dialogs' behaviour against a real server is in
test_admin_cameras.py and test_admin_users.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from vms_desktop.admin.dialogs.camera_dialog import CameraDialog
from vms_desktop.admin.dialogs.csv_dialog import CsvImportDialog
from vms_desktop.admin.dialogs.diagnostics_dialog import DiagnosticsDialog
from vms_desktop.admin.dialogs.discovery_dialog import DiscoveryDialog
from vms_desktop.admin.dialogs.user_dialog import UserDialog
from vms_desktop.admin.models.admin_api import CameraRow
from vms_desktop.ui_theme import ui_dir
from vms_desktop.ui_theme.forms import FormError, load_form

SITES = [("s1", "Head office"), ("s2", "Depot")]


def test_every_form_in_ui_forms_loads(qtbot: QtBot) -> None:
    forms = sorted((ui_dir() / "forms").glob("*.ui"))
    assert {p.stem for p in forms} >= {"camera_dialog", "user_dialog", "csv_import_dialog", "discovery_dialog",
                                       "diagnostics_dialog"}
    for path in forms:
        host = QWidget()
        qtbot.addWidget(host)
        form = load_form(path.stem, host)
        assert form.root.parent() is host
        assert form.root.findChildren(QWidget), f"{path.name} built no widgets"


def test_a_missing_widget_or_form_is_named(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = QWidget()
    qtbot.addWidget(host)
    form = load_form("user_dialog", host)
    with pytest.raises(FormError, match=r"user_dialog\.ui has no QLineEdit named 'nickname'"):
        form.get(QLineEdit, "nickname")
    monkeypatch.setenv("VMS_UI_DIR", str(tmp_path))
    with pytest.raises(FormError, match="cannot open form"):
        load_form("user_dialog", host)


def camera(**over: Any) -> CameraRow:
    fields: dict[str, Any] = {f: "" for f in CameraRow.__dataclass_fields__}
    fields.update(id="c1", name="Gate", site_id="s1", enabled=False, tags=("gate", "outdoor"),
                  main_url="rtsp://10.0.0.5/main", has_secret=True, username="admin")
    fields.update(over)
    return CameraRow(**fields)


def test_camera_dialog_rows_follow_add_or_edit(qtbot: QtBot) -> None:
    adding = CameraDialog(api=None, sites=SITES)  # type: ignore[arg-type]  # no server call in this test
    qtbot.addWidget(adding)
    rows = adding.findChild(QFormLayout, "form")
    assert rows is not None
    assert rows.isRowVisible(adding.method) and rows.isRowVisible(adding.site)
    assert not rows.isRowVisible(adding.enabled)
    assert [adding.site.itemText(i) for i in range(adding.site.count())] == ["Head office", "Depot"]
    editing = CameraDialog(api=None, sites=SITES, camera=camera())  # type: ignore[arg-type]
    qtbot.addWidget(editing)
    rows = editing.findChild(QFormLayout, "form")
    assert rows is not None
    assert not rows.isRowVisible(editing.method) and rows.isRowVisible(editing.enabled)
    assert editing.name.text() == "Gate" and editing.tags.text() == "gate, outdoor"
    assert not editing.enabled.isChecked()
    assert editing.password.text() == "" and "stored" in editing.password.placeholderText()
    assert editing.password.echoMode() == QLineEdit.EchoMode.Password  # from the .ui file
    editing.name.setText("Gate 2")
    assert editing.changes() == {"name": "Gate 2"}


def test_user_and_csv_dialogs_fill_their_forms(qtbot: QtBot) -> None:
    user = UserDialog(api=None, sites=SITES)  # type: ignore[arg-type]
    qtbot.addWidget(user)
    assert user.role.currentText() == "viewer" and user.sites.count() == 2
    assert user.password.echoMode() == QLineEdit.EchoMode.Password
    csv = CsvImportDialog(api=None, sites=SITES)  # type: ignore[arg-type]
    qtbot.addWidget(csv)
    assert csv.site.count() == 2 and "rtsp://" in csv.text.placeholderText()
    assert csv.import_button.text() == "Import"


def test_discovery_and_diagnostics_dialogs_are_built_from_their_forms(qtbot: QtBot) -> None:
    found = DiscoveryDialog(api=None, sites=SITES)  # type: ignore[arg-type]
    qtbot.addWidget(found)
    assert found.table.parent() is not None and found.table.model() is found.model  # the form's view, our model
    assert found.model.columnCount() == 6 and found.onvif_ports.text() == "80, 8000, 8080, 8899"
    assert found.password.echoMode() == QLineEdit.EchoMode.Password and found.site.count() == 2
    label = found.findChild(QLabel, "range_label")
    assert label is not None and label.buddy() is found.range  # Alt+R reaches the range field
    camera_row = camera()
    diagnostics = DiagnosticsDialog(api=None, camera=camera_row)  # type: ignore[arg-type]
    qtbot.addWidget(diagnostics)
    diagnostics.show()
    assert diagnostics.report.isReadOnly() and diagnostics.report.placeholderText() == "The report appears here."
    assert not diagnostics.copy_button.isEnabled() and not diagnostics.progress.isVisible()
    assert "UDP" in diagnostics.udp.text() and "firewalls" in diagnostics.udp.toolTip().lower()
