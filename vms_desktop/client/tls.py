"""Certificate pinning for `https://` servers (issue #18).

A site server in `self_signed` mode presents a certificate no authority vouches for. The operator compares its
SHA-256 fingerprint (of the DER certificate, colon-separated upper-case hex, the form `vms-server tls
fingerprint` prints) once, the client remembers it per server, and from then on accepts that certificate and
no other. The host name is not checked for a pinned server: the pin names the exact certificate, so an
address missing from the certificate's names (a server reached through a new IP) proves nothing either way.
Without a pin the system CAs verify as usual (a site that uses its own CA-signed certificate). There is no
third, unverified way.

Pins live in `pins.json` next to the client's other local state: they are not secrets (anyone who connects
sees the certificate), and unlike the OS keyring such a file also exists on a headless machine, like SSH's
`known_hosts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import ssl
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

logger = logging.getLogger(__name__)
_HEX = re.compile(r"[0-9A-Fa-f]{64}")


def normalise_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as `AA:BB:…`, accepting what operators paste: any case, with or without colons,
    an optional `sha256:`/`SHA256=` prefix. Raises ValueError for anything that is not 32 bytes of hex."""
    value = text.strip()
    value = re.sub(r"^sha-?256\s*[:=]?\s*", "", value, flags=re.IGNORECASE)
    compact = re.sub(r"[\s:]", "", value)
    if not _HEX.fullmatch(compact):
        raise ValueError(f"not a SHA-256 fingerprint (64 hex digits, colons optional): {text!r}")
    compact = compact.upper()
    return ":".join(compact[i:i + 2] for i in range(0, 64, 2))


def fingerprint_of(der: bytes) -> str:
    """The fingerprint of a DER certificate, in the server's format."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, 64, 2))


def pin_bytes(pin: str) -> bytes:
    return bytes.fromhex(normalise_fingerprint(pin).replace(":", ""))


def aiohttp_ssl(pin: str | None) -> aiohttp.Fingerprint | bool:
    """What aiohttp's `ssl=` gets: the pin (aiohttp then skips CA and host name checks and compares the
    certificate's SHA-256 right after the handshake, before any request goes out), or True, the default
    CA verification. (For an `http://` server it is not used.)"""
    return aiohttp.Fingerprint(pin_bytes(pin)) if pin else True


class _PinnedSocket(ssl.SSLSocket):
    """An SSL socket that checks the pin right after its handshake, before http.client writes a byte."""

    expected: bytes = b""

    def do_handshake(self, block: bool = False) -> None:
        super().do_handshake(block)
        der = self.getpeercert(binary_form=True) or b""
        if hashlib.sha256(der).digest() != self.expected:
            self.close()
            raise ssl.SSLCertVerificationError(
                f"the server's certificate ({fingerprint_of(der)}) is not the pinned one "
                f"({fingerprint_of_digest(self.expected)})")


def fingerprint_of_digest(digest: bytes) -> str:
    return ":".join(f"{b:02X}" for b in digest)


def stdlib_context(pin: str | None) -> ssl.SSLContext:
    """An `ssl.SSLContext` for Python's own HTTP client (the playback stream): pinned like `aiohttp_ssl`, or
    the default CA-verifying context without a pin."""
    if not pin:
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # replaced by the fingerprint check of _PinnedSocket
    socket_class = type("PinnedSocket", (_PinnedSocket,), {"expected": pin_bytes(pin)})
    context.sslsocket_class = socket_class
    return context


async def fetch_fingerprint(host: str, port: int, limit_s: float = 10.0) -> str:
    """The fingerprint of the certificate a server presents, read from a bare TLS handshake: no HTTP request,
    so nothing (least of all a password) is sent to a server not yet trusted. Raises OSError/TimeoutError."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only to read the certificate, which the operator then judges
    _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=context), limit_s)
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    if not der:
        raise OSError("the server presented no certificate")
    return fingerprint_of(der)


def default_pins_path() -> Path:
    from vms_desktop.store import default_store_path

    return default_store_path().parent / "pins.json"


class PinStore:
    """Pinned fingerprints per server base URL (`https://host:port`), in a small JSON file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_pins_path()

    def _read(self) -> dict[str, str]:
        try:
            data: Any = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            # Refusing to start would lock the operator out; an unreadable file means "no pins", so every https
            # server asks for confirmation again: never a silent acceptance.
            logger.warning("pins file %s unreadable (%s); servers will ask to confirm their certificate",
                           self.path, exc)
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def get(self, server: str) -> str | None:
        return self._read().get(server)

    def set(self, server: str, fingerprint: str) -> None:
        pins = self._read()
        pins[server] = normalise_fingerprint(fingerprint)
        self._write(pins)
        logger.info("pinned the certificate of %s: %s", server, pins[server])

    def forget(self, server: str) -> bool:
        pins = self._read()
        if pins.pop(server, None) is None:
            return False
        self._write(pins)
        logger.info("forgot the pinned certificate of %s", server)
        return True

    def _write(self, pins: dict[str, str]) -> None:
        """Atomically (a crash mid-write must not lose every pin), readable by the user only."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".pins-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(pins, out, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
