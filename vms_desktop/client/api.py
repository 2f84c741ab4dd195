"""The thin HTTP layer between the operator client and one VMS server.

Every call goes through `request`, which refreshes the access token once on a 401 and turns transport
failures into `Unreachable`, so widgets only ever see the exceptions of this module, each with a message
an operator can read. Token rotation is reported through `on_tokens` so "remember me" can keep the newest
refresh token in the keyring.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp

from vms_desktop.client.tls import (
    aiohttp_ssl,
    fetch_fingerprint,
    fingerprint_of_digest,
    normalise_fingerprint,
    stdlib_context,
)

logger = logging.getLogger(__name__)
# What a proxy or the server itself answers while the server restarts: a pause, not a refusal.
RESTARTING_STATUSES = frozenset({502, 503, 504})
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 5.0
REFRESH_AHEAD_S = 30.0  # refresh an access token this long before it runs out (a quarter of shorter lives)


def retry_delays() -> Iterator[float]:
    """Reconnection backoff: 0.5 s, doubling, capped at 5 s. A restarted server is back within seconds; the
    old 8-10 s cap left pictures away ~15 s after the server was up again."""
    delay = RETRY_FIRST_S
    while True:
        yield delay
        delay = min(delay * 2, RETRY_MAX_S)


def token_claims(token: str) -> dict[str, Any]:
    """An access JWT's claims, read without checking the signature: the server checks that on every
    request; the client only reads when to refresh and what to offer. Empty for what is not a JWT."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def access_lifetime(token: str) -> float | None:
    """Seconds an access JWT was issued to live (`exp - iat`); None for what is not a JWT."""
    claims = token_claims(token)
    try:
        return max(0.0, float(claims["exp"]) - float(claims["iat"]))
    except (KeyError, ValueError, TypeError):
        return None


class ClientError(Exception):
    """Base of everything the client raises; `message` is meant for the operator."""

    def __init__(self, message: str, *, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class Unreachable(ClientError):
    """The server did not answer (down, restarting, wrong address)."""


class AuthFailed(ClientError):
    """Wrong username, password or TOTP code, or a disabled account."""


class UntrustedCertificate(ClientError):
    """An `https://` server whose certificate no system CA vouches for and which has no pin yet: the operator
    compares `fingerprint` with `vms-server tls fingerprint` and, if it matches, pins it (trust on first use).
    Nothing was sent to the server but a TLS handshake."""

    def __init__(self, message: str, *, fingerprint: str) -> None:
        super().__init__(message, code="untrusted_certificate")
        self.fingerprint = fingerprint


class CertificateChanged(ClientError):
    """The server presented another certificate than the pinned one: possibly someone in between. Refused
    before any request (or password) went out; never accepted without the operator resetting the pin."""

    def __init__(self, message: str, *, presented: str) -> None:
        super().__init__(message, code="certificate_changed")
        self.presented = presented


class SessionExpired(ClientError):
    """The saved or current login cannot be refreshed any more: log in again."""


class ServerError(ClientError):
    """The server refused the request (4xx/5xx) with its own explanation."""


@dataclass
class Tokens:
    access_token: str
    refresh_token: str


@dataclass
class LoginResult:
    """Either tokens, or the MFA challenge to answer with `VmsClient.verify_mfa`."""

    status: str
    tokens: Tokens | None = None
    mfa_token: str | None = None


def normalise_address(address: str) -> str:
    """Accept `host`, `host:port` or a full URL; default to https and port 8080 like the server.

    The server serves HTTPS by default (a self-signed certificate the login dialog shows to confirm once), so
    a bare `host:port` means `https://`; plain HTTP only when typed as `http://` (a server with TLS off). Never
    a silent fall back from one to the other: that is what an attacker in the middle would arrange."""
    address = address.strip().rstrip("/")
    if not address:
        raise ClientError("enter the server address, e.g. 192.168.1.10:8080")
    if "://" not in address:
        address = "https://" + address
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClientError(f"not a server address: {address!r}")
    try:
        port = parts.port
    except ValueError:
        raise ClientError(f"invalid port in {address!r}") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port or 8080}"


def _error_message(body: Any, status: int) -> tuple[str, str]:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        return str(err.get("message", f"HTTP {status}")), str(err.get("code", ""))
    return f"the server answered HTTP {status}", ""


class VmsClient:
    """One logged-in (or logging-in) connection to a server."""

    def __init__(self, base_url: str, *, timeout: float = 10.0, pin: str | None = None) -> None:
        self.base_url = normalise_address(base_url)
        # The pinned SHA-256 of the server's certificate (https only); None: the system CAs verify it.
        self.pin = normalise_fingerprint(pin) if pin else None
        self.tokens: Tokens | None = None
        self.username: str = ""
        self.on_tokens: Callable[[Tokens], None] | None = None
        # Told (with the reason) when the refresh token is refused: the session is over, log in again.
        self.on_session_expired: Callable[[str], None] | None = None
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0))
        self._session: aiohttp.ClientSession | None = None
        self._refresh_lock = asyncio.Lock()
        # (access token, monotonic time it should be refreshed by); measured from when the client first saw the
        # token, so a client clock set minutes off the server's neither refreshes on every call nor never.
        self._deadline: tuple[str, float | None] = ("", None)

    @property
    def role(self) -> str:
        """The logged-in user's role as the server put it in the access token ("viewer", "supervisor",
        "admin"; "" when unknown): what the UI offers. The server still decides every request."""
        return str(token_claims(self.tokens.access_token).get("role", "")) if self.tokens else ""

    @property
    def session(self) -> aiohttp.ClientSession:
        """The one HTTP session: REST, the push channel and live video all go through it, so the pin (or CA
        verification) set on its connector covers every connection to the server."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=aiohttp_ssl(self.pin)) if self.is_tls else None
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session

    @property
    def is_tls(self) -> bool:
        return self.base_url.startswith("https://")

    def ssl_context(self) -> ssl.SSLContext | None:
        """For Python's own HTTP client (the playback stream): the same pin or CA check; None over http."""
        return stdlib_context(self.pin) if self.is_tls else None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, path: str, params: dict[str, str] | None = None) -> str:
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.base_url}{path}{query}"

    def ws_url(self, path: str, params: dict[str, str] | None = None) -> str:
        """A WebSocket URL carrying the access token (WebSockets cannot always set headers)."""
        merged = dict(params or {})
        if self.tokens is not None:
            merged["access_token"] = self.tokens.access_token
        return self.url(path, merged).replace("http://", "ws://", 1).replace("https://", "wss://", 1)

    # --- authentication --------------------------------------------------------------------------

    async def login(self, username: str, password: str, totp_code: str | None = None) -> LoginResult:
        """Password (and optional TOTP) login. Raises AuthFailed, Unreachable or ServerError."""
        body: dict[str, Any] = {"username": username, "password": password}
        if totp_code:
            body["totp_code"] = totp_code
        self.username = username
        return self._login_result(await self._raw("POST", "/api/v1/auth/login", body, auth=False))

    async def verify_mfa(self, mfa_token: str, code: str) -> LoginResult:
        """Answer the MFA challenge. Raises AuthFailed on a wrong or reused code."""
        data = await self._raw("POST", "/api/v1/auth/mfa/verify", {"mfa_token": mfa_token, "code": code},
                               auth=False)
        return self._login_result(data)

    async def enroll_mfa(self, mfa_token: str) -> tuple[str, str]:
        """Start TOTP enrolment after a login that asked for it: (base32 secret, otpauth URI)."""
        data = await self._raw("POST", "/api/v1/auth/mfa/enroll", {"mfa_token": mfa_token}, auth=False)
        return str(data["secret"]), str(data["otpauth_uri"])

    async def resume(self, refresh_token: str) -> None:
        """Log in again from a remembered refresh token. Raises SessionExpired when it is no longer valid."""
        self.tokens = Tokens("", refresh_token)
        await self.refresh()

    async def refresh(self) -> None:
        """Rotate the refresh token. Raises SessionExpired when the server refuses it."""
        if self.tokens is None:
            raise SessionExpired("not logged in")
        spent = self.tokens.refresh_token
        async with self._refresh_lock:
            if self.tokens.refresh_token != spent:  # another task refreshed while we waited
                return
            try:
                data = await self._raw("POST", "/api/v1/auth/refresh", {"refresh_token": spent}, auth=False)
            except AuthFailed as exc:
                expired = SessionExpired(f"your session has expired ({exc.message}); log in again", status=401)
                if self.on_session_expired is not None:
                    self.on_session_expired(expired.message)
                raise expired from None
            self._store_tokens(data)

    async def ensure_fresh(self) -> None:
        """Refresh the access token first when it has run out or is about to.

        Access tokens live `security.access_token_minutes` (15) and only a 401 used to refresh them. The push
        channel and the live tiles hold their sockets for hours without a request, so after a server restart
        later in a shift every one of them reconnected with a token whose signature was still good but whose
        time was up: the server answered 401 to all of them at once, tiles said "Not authorised" until a
        refresh, and a playback tile retrying through the restart kept its stale URL and stayed refused.
        Streams call this before they connect. Raises SessionExpired (log in again) or Unreachable."""
        if self.tokens is None or not self.tokens.refresh_token:
            return
        token = self.tokens.access_token
        if not token:
            await self.refresh()
            return
        if self._deadline[0] != token:
            lifetime = access_lifetime(token)
            deadline = None
            if lifetime is not None:
                deadline = time.monotonic() + lifetime - min(REFRESH_AHEAD_S, lifetime / 4)
            self._deadline = (token, deadline)
        deadline = self._deadline[1]
        if deadline is not None and time.monotonic() >= deadline:
            logger.debug("access token about to expire; refreshing before the request")
            await self.refresh()

    async def logout(self) -> None:
        try:
            await self.request("POST", "/api/v1/auth/logout")
        except ClientError:
            logger.info("logout did not reach the server; the tokens are forgotten locally anyway")
        self.tokens = None

    def _login_result(self, data: Any) -> LoginResult:
        status = str(data.get("status"))
        if status == "ok":
            self._store_tokens(data)
            return LoginResult(status, tokens=self.tokens)
        return LoginResult(status, mfa_token=data.get("mfa_token"))

    def _store_tokens(self, data: dict[str, Any]) -> None:
        self.tokens = Tokens(str(data["access_token"]), str(data["refresh_token"]))
        if self.on_tokens is not None:
            self.on_tokens(self.tokens)

    # --- requests --------------------------------------------------------------------------------

    async def request(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None,
                      timeout_s: float | None = None) -> Any:
        """JSON request with the access token; refreshes once on 401. Returns the decoded body (None on 204).
        `timeout_s` lengthens the total time for a call the server is known to take long over (diagnostics)."""
        await self.ensure_fresh()
        try:
            return await self._raw(method, path, body, params=params, timeout_s=timeout_s)
        except AuthFailed:
            if self.tokens is None:
                raise SessionExpired("not logged in") from None
        await self.refresh()
        return await self._raw(method, path, body, params=params, timeout_s=timeout_s)

    async def get_bytes(self, path: str, params: dict[str, str] | None = None) -> bytes:
        """A binary resource (snapshot, export file)."""
        await self.ensure_fresh()
        for attempt in range(2):
            try:
                async with self.session.get(self.url(path, params), headers=self._headers()) as resp:
                    if resp.status == 401 and attempt == 0:
                        await self.refresh()
                        continue
                    if resp.status >= 400:
                        message, code = _error_message(await self._json_or_none(resp), resp.status)
                        if resp.status in RESTARTING_STATUSES:
                            raise Unreachable(f"the server is not available ({message})", status=resp.status)
                        raise ServerError(message, status=resp.status, code=code)
                    return await resp.read()
            except (aiohttp.ServerFingerprintMismatch, aiohttp.ClientConnectorCertificateError) as exc:
                raise await self.certificate_error(exc) from None
            except (aiohttp.ClientConnectionError, TimeoutError) as exc:
                raise Unreachable(f"cannot reach {self.base_url}: {exc or type(exc).__name__}") from None
        raise SessionExpired("the server keeps refusing the refreshed token; log in again")

    def _headers(self) -> dict[str, str]:
        if self.tokens is None or not self.tokens.access_token:
            return {}
        return {"Authorization": f"Bearer {self.tokens.access_token}"}

    @staticmethod
    async def _json_or_none(resp: aiohttp.ClientResponse) -> Any:
        try:
            return await resp.json(content_type=None)
        except (ValueError, aiohttp.ContentTypeError):
            return None

    async def _raw(self, method: str, path: str, body: Any = None, *, auth: bool = True,
                   params: dict[str, str] | None = None, timeout_s: float | None = None) -> Any:
        headers = self._headers() if auth else {}
        timeout = self._timeout if timeout_s is None else aiohttp.ClientTimeout(total=timeout_s,
                                                                                 connect=self._timeout.connect)
        try:
            async with self.session.request(method, self.url(path, params), json=body, headers=headers,
                                            timeout=timeout) as resp:
                data = await self._json_or_none(resp)
                status = resp.status
        except (aiohttp.ServerFingerprintMismatch, aiohttp.ClientConnectorCertificateError) as exc:
            raise await self.certificate_error(exc) from None
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise Unreachable(f"cannot reach the server at {self.base_url} ({exc or type(exc).__name__}); "
                              "check the address and that the server is running") from None
        if status < 400:
            return data
        message, code = _error_message(data, status)
        if status == 401:
            raise AuthFailed(message, status=status, code=code)
        if status in RESTARTING_STATUSES:
            raise Unreachable(f"the server is not available ({message}); retrying", status=status, code=code)
        raise ServerError(message, status=status, code=code)

    async def certificate_error(self, exc: aiohttp.ClientError) -> ClientError:
        """What a refused certificate means for the operator: a changed pinned certificate (possible
        interception), or an unknown one to compare and trust (its fingerprint read from a bare handshake)."""
        if isinstance(exc, aiohttp.ServerFingerprintMismatch):
            presented = fingerprint_of_digest(exc.got)
            logger.warning("certificate of %s does not match the pin: presented %s, pinned %s", self.base_url,
                           presented, self.pin)
            return CertificateChanged(
                f"The certificate of {self.base_url} has changed: it is not the one this computer trusted before "
                f"(pinned {self.pin}, presented {presented}). Someone may be intercepting the connection, so "
                "nothing was sent. If the administrator replaced the server's certificate, compare the new one "
                "with `vms-server tls fingerprint` and reset the pin (see docs/network.md)", presented=presented)
        parts = urlsplit(self.base_url)
        try:
            presented = await fetch_fingerprint(parts.hostname or "", parts.port or 443, self._timeout.total or 10.0)
        except (OSError, TimeoutError) as probe:
            return Unreachable(f"cannot read the certificate of {self.base_url}: {probe or type(probe).__name__}")
        logger.info("certificate of %s is not trusted by the system (%s); fingerprint %s", self.base_url, exc,
                    presented)
        return UntrustedCertificate(
            f"The server {self.base_url} presents a certificate this computer does not know yet. Its SHA-256 "
            f"fingerprint is\n{presented}\nTrust it only if it is the same as what `vms-server tls fingerprint` "
            "prints on the server (ask your administrator).", fingerprint=presented)
