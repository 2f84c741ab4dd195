"""Login: server address (typed or found on the LAN), password, TOTP when asked, remember me, and for an
`https://` server with a self-signed certificate its fingerprint to confirm once (trust on first use).

All network work runs as asyncio tasks on the Qt loop; the dialog stays responsive and says, in words an
operator understands, why a login did not work.
"""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from vms_desktop.client.api import (
    AuthFailed,
    CertificateChanged,
    ClientError,
    SessionExpired,
    Tokens,
    Unreachable,
    UntrustedCertificate,
    VmsClient,
    normalise_address,
)
from vms_desktop.client.credentials import CredentialStore, KeyringUnavailable
from vms_desktop.client.discovery import FoundServer
from vms_desktop.client.tls import PinStore

logger = logging.getLogger(__name__)


class LoginDialog(QDialog):
    sig_logged_in = Signal(object)  # VmsClient
    sig_message = Signal(str)

    def __init__(self, store: CredentialStore, parent: QWidget | None = None, *,
                 pins: PinStore | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect to a VMS server")
        self.store = store
        self.pins = pins or PinStore()
        self.offered_fingerprint = ""  # the unknown certificate the operator is asked to confirm
        self.client: VmsClient | None = None
        self._mfa_token: str | None = None
        self.enrolment_uri = ""
        self._task: asyncio.Task[None] | None = None
        self.server = QComboBox(editable=True)
        self.server.setPlaceholderText("host:port")
        self.username = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.totp = QLineEdit()
        self.totp.setPlaceholderText("6-digit code")
        self.totp.setMaxLength(6)
        self.totp_label = QLabel("Code")
        self.remember = QCheckBox("Remember me on this computer")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.login_button = QPushButton("Log in")
        self.login_button.setDefault(True)
        self.trust_button = QPushButton("Trust this certificate and log in")
        self.trust_button.setVisible(False)
        self._layout()
        self.login_button.clicked.connect(self.submit)
        self.trust_button.clicked.connect(self.trust_offered)
        self.password.returnPressed.connect(self.submit)
        self.totp.returnPressed.connect(self.submit)
        self._show_totp(False)
        if not store.available():
            self.remember.setEnabled(False)
            self.remember.setToolTip(store.unavailable_reason())
            self.remember.setText("Remember me (unavailable: no OS keyring on this computer)")
        last = store.last_login()
        if last is not None:
            self.server.setEditText(last[0])
            self.username.setText(last[1])

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("Server", self.server)
        form.addRow("Username", self.username)
        form.addRow("Password", self.password)
        form.addRow(self.totp_label, self.totp)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.remember)
        box.addWidget(self.message)
        box.addWidget(self.trust_button)
        box.addWidget(self.login_button)

    def showEvent(self, event: QShowEvent) -> None:
        """Put the cursor in the first empty field, so an operator with a pre-filled address just types."""
        super().showEvent(event)
        texts = [(self.server, self.server.currentText()), (self.username, self.username.text()),
                 (self.password, self.password.text())]
        empty = next((field for field, text in texts if not text.strip()), None)
        if empty is not None:
            empty.setFocus()

    def _show_totp(self, visible: bool) -> None:
        self.totp.setVisible(visible)
        self.totp_label.setVisible(visible)

    def add_found_server(self, found: FoundServer) -> None:
        """A server advertised on the LAN: offer it in the address box."""
        if self.server.findData(found.address) < 0:
            self.server.addItem(f"{found.name} ({found.address})", found.address)
            if not self.server.currentText():
                self.server.setCurrentIndex(self.server.count() - 1)

    def address(self) -> str:
        index = self.server.findText(self.server.currentText())
        data = self.server.itemData(index) if index >= 0 else None
        return str(data) if data else self.server.currentText().strip()

    def say(self, text: str) -> None:
        self.message.setText(text)
        self.sig_message.emit(text)

    def submit(self) -> None:
        if self._task is not None and not self._task.done():
            return
        self._task = asyncio.ensure_future(self._submit())

    async def _submit(self) -> None:
        self.login_button.setEnabled(False)
        self.say("Connecting…")
        try:
            await self._attempt()
        except UntrustedCertificate as exc:
            self._offer_trust(exc)
        except CertificateChanged as exc:
            self._refused(f"Connection refused: {exc.message}.")
        except AuthFailed as exc:
            self._refused(f"Login refused: {exc.message}.")
        except Unreachable as exc:
            self._refused(f"Server unreachable: {exc.message}.")
        except ClientError as exc:
            self._refused(exc.message)
        finally:
            self.login_button.setEnabled(True)

    def _refused(self, text: str) -> None:
        """Show why the attempt failed, and log it: the client's log is what support reads when an operator
        says "it would not let me in" (the server's answer only, never what was typed)."""
        logger.warning("login to %s as %s failed: %s", self.address(), self.username.text().strip(), text)
        self.say(text)

    def _offer_trust(self, exc: UntrustedCertificate) -> None:
        """Show the unknown certificate's fingerprint and wait for the operator's decision: nothing is pinned,
        and no password is sent, until they press the trust button."""
        logger.warning("%s presents an unknown certificate %s; asking the operator", self.address(),
                       exc.fingerprint)
        self.offered_fingerprint = exc.fingerprint
        self.trust_button.setVisible(True)
        self.say(exc.message)

    def trust_offered(self) -> None:
        """The operator compared the fingerprint and accepts it: pin it for this server and log in with it."""
        if not self.offered_fingerprint or self.client is None:
            return
        self.pins.set(self.client.base_url, self.offered_fingerprint)
        self.offered_fingerprint = ""
        self.trust_button.setVisible(False)
        self.submit()

    def client_for(self, address: str) -> VmsClient:
        """A client for the address with the pin stored for it (https); None pinned: the system CAs decide."""
        base = normalise_address(address)
        return VmsClient(base, pin=self.pins.get(base) if base.startswith("https://") else None)

    async def _attempt(self) -> None:
        self.offered_fingerprint = ""
        self.trust_button.setVisible(False)
        fresh = self.client_for(self.address())
        if self.client is None or (self.client.base_url, self.client.pin) != (fresh.base_url, fresh.pin):
            if self.client is not None:
                await self.client.close()
            self.client = fresh
            self._mfa_token = None
        client = self.client
        code = self.totp.text().strip() or None
        if self._mfa_token is not None and code:
            result = await client.verify_mfa(self._mfa_token, code)
        else:
            result = await client.login(self.username.text().strip(), self.password.text(), code)
        if result.status == "mfa_required":
            self._mfa_token = result.mfa_token
            self._show_totp(True)
            self.totp.setFocus()
            logger.info("%s asks %s for a one-time code", client.base_url, self.username.text().strip())
            self.say("This server asks for a second factor: enter the 6-digit code from your authenticator app.")
            return
        if result.status == "mfa_enrollment_required" and result.mfa_token:
            secret, uri = await client.enroll_mfa(result.mfa_token)
            self._mfa_token = result.mfa_token
            self.enrolment_uri = uri
            self._show_totp(True)
            self.totp.setFocus()
            logger.info("%s asks %s to enrol an authenticator", client.base_url, self.username.text().strip())
            self.say("This account needs an authenticator. Add this key to your authenticator app "
                     f"(or scan {uri}):\n{secret}\nthen enter the 6-digit code it shows.")
            return
        self._finish(client)

    def _finish(self, client: VmsClient) -> None:
        client.username = self.username.text().strip()
        if self.remember.isChecked() and client.tokens is not None:
            self._remember(client, client.tokens)
            client.on_tokens = lambda tokens: self._remember(client, tokens)
        self.say("Connected.")
        logger.info("logged in to %s as %s", client.base_url, client.username)
        self.sig_logged_in.emit(client)
        self.accept()

    def _remember(self, client: VmsClient, tokens: Tokens) -> None:
        try:
            self.store.save(client.base_url, client.username, tokens.refresh_token)
        except KeyringUnavailable as exc:
            logger.warning("remember-me failed: %s", exc)

    async def try_resume(self) -> VmsClient | None:
        """Log in silently from the remembered refresh token; explain if it no longer works."""
        last = self.store.last_login()
        if last is None:
            return None
        token = self.store.load(*last)
        if not token:
            return None
        try:
            client = self.client_for(last[0])
        except ClientError:
            return None
        client.username = last[1]
        try:
            await client.resume(token)
        except SessionExpired:
            self.store.forget(*last)
            await client.close()
            self.say("Your saved session has expired; log in again.")
            return None
        except ClientError as exc:
            await client.close()
            self.say(f"Could not restore the saved session: {exc.message}")
            return None
        client.on_tokens = lambda tokens: self._remember(client, tokens)
        assert client.tokens is not None
        self._remember(client, client.tokens)
        self.client = client
        self.remember.setChecked(True)
        self.sig_logged_in.emit(client)
        return client
