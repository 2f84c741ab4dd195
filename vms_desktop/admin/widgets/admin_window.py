"""The administration window: one tab per admin screen, only the screens the user's role may use.

Supervisors get Users and Configuration (read only), Licence, Health and Camera controls (picture settings,
event topics); administrators also Cameras, Recording, the audit log and Analytics (zones, lines and regions
drawn on the picture, models enabled). A viewer gets no administration at all (the main window does not offer
it). The server decides every request anyway: a screen a site-restricted
administrator may not read says so in its message line."""

from __future__ import annotations

import logging

from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from vms_desktop.admin.models.admin_api import AdminApi
from vms_desktop.admin.widgets.analytics_page import AnalyticsPage
from vms_desktop.admin.widgets.audit_page import AuditPage
from vms_desktop.admin.widgets.base import AdminPage
from vms_desktop.admin.widgets.camera_controls_page import CameraControlsPage
from vms_desktop.admin.widgets.cameras_page import CamerasPage
from vms_desktop.admin.widgets.config_page import ConfigPage
from vms_desktop.admin.widgets.licence_page import LicencePage
from vms_desktop.admin.widgets.recording_page import RecordingPage
from vms_desktop.admin.widgets.users_page import UsersPage
from vms_desktop.health.widgets.health_page import HealthPage
from vms_desktop.ui_theme import icon

logger = logging.getLogger(__name__)
ICONS = {"Cameras": "camera", "Recording": "camera", "Users": "user", "Configuration": "admin", "Licence": "licence",
         "Audit log": "audit", "Health": "health", "Camera controls": "camera",
         "Analytics": "camera"}


def pages_for(api: AdminApi) -> list[type[AdminPage]]:
    """The screens this user's role may use, in tab order."""
    if api.may_administer():
        return [CamerasPage, RecordingPage, UsersPage, ConfigPage, LicencePage, AuditPage, HealthPage,
                CameraControlsPage, AnalyticsPage]
    if api.may_supervise():
        return [UsersPage, ConfigPage, LicencePage, HealthPage, CameraControlsPage]
    return []


class AdminWindow(QWidget):
    def __init__(self, api: AdminApi, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.api = api
        self.setWindowTitle(f"Administration - {api.client.username} @ {api.client.base_url}")
        self.tabs = QTabWidget()
        self.pages: dict[str, AdminPage] = {}
        for number, page_type in enumerate(pages_for(api), start=1):
            page = page_type(api)
            self.pages[page.title] = page
            index = self.tabs.addTab(page, icon(ICONS.get(page.title, "admin")), page.title)
            self.tabs.setTabToolTip(index, f"Alt+{number}")
            # Alt+N shows the N-th screen: a control room's keyboard, no mouse needed.
            QShortcut(QKeySequence(f"Alt+{number}"), self, activated=lambda i=index: self.tabs.setCurrentIndex(i))
        self.tabs.currentChanged.connect(self._tab_changed)
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(self.tabs)
        self.resize(1100, 700)

    def page(self, title: str) -> AdminPage | None:
        return self.pages.get(title)

    def show_page(self, title: str) -> AdminPage | None:
        page = self.pages.get(title)
        if page is not None:
            if self.tabs.currentWidget() is page:
                page.on_shown()
            self.tabs.setCurrentWidget(page)
        return page

    def _tab_changed(self, index: int) -> None:
        page = self.tabs.widget(index)
        if isinstance(page, AdminPage) and self.isVisible():
            page.on_shown()

    def showEvent(self, event: object) -> None:
        super().showEvent(event)  # type: ignore[arg-type]
        page = self.tabs.currentWidget()
        if isinstance(page, AdminPage):
            page.on_shown()

    async def drain(self) -> None:
        """Wait for every page's calls (closing the session)."""
        for page in self.pages.values():
            await page.runner.drain()

    def closeEvent(self, event: QCloseEvent) -> None:
        for page in self.pages.values():
            if isinstance(page, HealthPage):
                page.timer.stop()  # hideEvent stops it too; a closed window may never be hidden first
        super().closeEvent(event)
