"""TLS for the API listeners of the server and the cloud backend (issue #18): a self-signed certificate made once in
the data directory, or the site's own certificate and key, turned into the `ssl.SSLContext` aiohttp serves HTTPS
and WSS with; and the client side of a pin (`pinned`).

A self-signed certificate cannot be checked against a CA, so clients pin it: its SHA-256 fingerprint is what
`init` prints, the server logs at start and an operator compares with what the client shows on first use.
Generated with `cryptography` (a dependency already), never an openssl subprocess, so it works on Windows too.
"""
from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import ssl
from pathlib import Path
from typing import Literal

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)

CERT_FILE = "tls/server.crt"
KEY_FILE = "tls/server.key"
# Ten years: a self-signed certificate is pinned by fingerprint, so expiry protects nothing and a renewal would
# make every client refuse the server (a new fingerprint looks like interception).
VALIDITY = datetime.timedelta(days=3650)


class TlsError(Exception):
    """The certificate or key cannot be used; the message is meant for the site's IT."""


class TlsSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["off", "self_signed", "files"] = Field(
        "off", description="off: plain HTTP; self_signed: a certificate made in the data directory; files: "
                           "cert_file and key_file")
    cert_file: Path | None = Field(None, description="PEM certificate (chain) for mode files")
    key_file: Path | None = Field(None, description="PEM private key for mode files")
    names: list[str] = Field(
        default_factory=list, description="Host names/IPs the self-signed certificate is valid for, besides "
                                          "localhost and 127.0.0.1")


class TlsOnSection(TlsSection):
    """The listeners' section (site server, cloud backend): HTTPS by default, plain HTTP only when asked for
    (issue #18). The base stays `off` for what merely reuses the shape."""

    mode: Literal["off", "self_signed", "files"] = Field(
        "self_signed", description="self_signed (default): a certificate made in the data directory, its "
                                   "fingerprint pinned by clients; files: cert_file and key_file; off: plain HTTP")


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def generate_self_signed(cert_path: Path, key_path: Path, names: list[str]) -> None:
    """Write an ECDSA P-256 certificate and its key (mode 0600, created so, never world-readable in between)."""
    key = ec.generate_private_key(ec.SECP256R1())
    all_names = list(dict.fromkeys([*names, "localhost", "127.0.0.1"]))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, all_names[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
            .add_extension(x509.SubjectAlternativeName([_san(n) for n in all_names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def fingerprint(cert_pem: bytes) -> str:
    """SHA-256 of the DER certificate as colon-separated hex, the form browsers and `openssl x509` show."""
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return der_fingerprint(der)


def der_fingerprint(der: bytes) -> str:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return ":".join(f"{b:02X}" for b in digest.finalize())


def pinned(pin: str) -> aiohttp.Fingerprint:
    """The aiohttp check that accepts exactly the certificate with this SHA-256 fingerprint (the colon-separated
    hex `fingerprint` prints, colons optional), however it is signed: how a client trusts a self-signed server."""
    digest = normalise_pin(pin)
    return aiohttp.Fingerprint(bytes.fromhex(digest))


def normalise_pin(pin: str) -> str:
    """A fingerprint as 64 lower-case hex digits; TlsError when it is not a SHA-256 fingerprint."""
    digest = pin.replace(":", "").strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise TlsError(f"{pin!r} is not a SHA-256 certificate fingerprint (64 hex digits, colons optional)")
    return digest


def cert_paths(tls: TlsSection, data_dir: Path) -> tuple[Path, Path]:
    if tls.mode == "files":
        if tls.cert_file is None or tls.key_file is None:
            raise TlsError("server.tls.mode is files but cert_file or key_file is not set")
        return tls.cert_file, tls.key_file
    return data_dir / CERT_FILE, data_dir / KEY_FILE


def ensure_certificate(tls: TlsSection, data_dir: Path) -> str | None:
    """Make the self-signed certificate if it is missing; returns the fingerprint in use (None when TLS is off)."""
    if tls.mode == "off":
        return None
    cert_path, key_path = cert_paths(tls, data_dir)
    if tls.mode == "self_signed" and not (cert_path.exists() and key_path.exists()):
        generate_self_signed(cert_path, key_path, tls.names)
        logger.info("generated a self-signed certificate", extra={"cert_file": str(cert_path)})
    try:
        return fingerprint(cert_path.read_bytes())
    except OSError as exc:
        raise TlsError(f"cannot read the certificate {cert_path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise TlsError(f"{cert_path} is not a PEM certificate") from exc


def server_context(tls: TlsSection, data_dir: Path) -> ssl.SSLContext | None:
    """The context the listener serves with; TlsError names the file when it is unreadable or the key does not
    belong to the certificate (checked here, at start, rather than at the first client's handshake)."""
    if ensure_certificate(tls, data_dir) is None:
        return None
    cert_path, key_path = cert_paths(tls, data_dir)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_path, key_path)
    except ssl.SSLError as exc:  # before OSError: SSLError is one
        raise TlsError(f"the key {key_path} does not match the certificate {cert_path} or is not PEM: "
                       f"{exc.reason}") from exc
    except OSError as exc:
        raise TlsError(f"cannot read the key {key_path}: {exc.strerror}") from exc
    return context
