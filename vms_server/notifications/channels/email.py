"""Email over SMTP: STARTTLS (port 587), implicit TLS (465) or plain (a relay on the LAN), with login when a
username is set. Each message carries a text and an HTML part, the event's snapshot as an attachment and a
link to the event."""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Literal

import aiosmtplib
from pydantic import Field

from vms_server.notifications.channels.base import Channel, ChannelError, Outgoing, TemplatedConfig


class EmailConfig(TemplatedConfig):

    host: str = Field(min_length=1, max_length=255, description="SMTP server")
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="starttls (upgrade after connecting), tls (implicit, port 465) or none")
    username: str | None = Field(None, max_length=255, description="Login name; the password is the secret")
    from_addr: str = Field(min_length=3, max_length=255, description="Sender address")
    ca_file: str | None = Field(None, description="CA bundle to trust instead of the system's (own PKI)")
    verify_tls: bool = Field(True, description="Check the server certificate")


def _tls_context(config: EmailConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=config.ca_file)
    if not config.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def build_email(config: EmailConfig, message: Outgoing) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = config.from_addr
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    # One Message-ID per queued message, the same on every retry: mail systems drop duplicates by it.
    mail["Message-ID"] = make_msgid(idstring=message.message_id.replace("-", ""))
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    if message.snapshot:
        mail.add_attachment(message.snapshot, maintype="image", subtype="jpeg", filename="snapshot.jpg")
    return mail


class EmailChannel(Channel):
    kind = "email"
    needs_recipient = True

    def __init__(self, config: dict[str, Any], secret: str | None) -> None:
        self.config = EmailConfig.model_validate(config)
        self.templates = self.config.templates
        self._password = secret

    async def send(self, message: Outgoing, timeout_s: float) -> str:
        cfg = self.config
        context = _tls_context(cfg) if cfg.security != "none" else None
        client = aiosmtplib.SMTP(hostname=cfg.host, port=cfg.port, timeout=timeout_s,
                                 use_tls=cfg.security == "tls", start_tls=cfg.security == "starttls",
                                 tls_context=context)
        try:
            await client.connect()
            if cfg.username:
                await client.login(cfg.username, self._password or "")
            _errors, reply = await client.send_message(build_email(cfg, message))
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise ChannelError(f"SMTP login refused: {exc.code}", permanent=True) from None
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise ChannelError(f"recipient refused: {exc.recipients[0].code}", permanent=True) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise ChannelError(f"SMTP {exc.code}: {exc.message[:200]}", permanent=500 <= exc.code < 600) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise ChannelError(f"SMTP failed: {type(exc).__name__}: {exc}") from None
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()
        return reply[:200]
