"""Mobile push through Firebase Cloud Messaging, HTTP v1 API: the alert reaches the phones of guards and
supervisors (Android and, through FCM's APNs bridge, iOS) running an app registered with the site's Firebase
project.

Authentication is Google's service-account flow (OAuth 2.0 JWT bearer grant, RFC 7523): the channel signs a JWT
(RS256) with the service account's private key, trades it at the key's `token_uri` for an access token
(cached until a minute before it expires), and calls
`POST {api_base}/v1/projects/{project_id}/messages:send` with `{"message": {"token": <device registration
token>, "notification": {title, body}, "data": {...}}}`. The secret is the service-account key file (JSON) as
Firebase's console downloads it; `api_base` and `token_uri` can be pointed at a proxy or a test server.

A recipient is a device registration token. A 200 carries the message name. `UNREGISTERED` (404) and
`INVALID_ARGUMENT` (400) concern that token or message: permanent. 401 drops the cached token and is retried;
429 and 5xx are retried.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vms_server.notifications.channels.base import Channel, ChannelError, Outgoing, TemplatedConfig
from vms_server.notifications.channels.webpush import b64url

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
# Access tokens by (service account, token endpoint): (token, expiry on the monotonic clock).
_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}
# One token request at a time per account and loop: a burst of alerts is sent concurrently, and each asking
# for its own token would be refused by Google's rate limit on the token endpoint.
_TOKEN_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Lock]] = (
    weakref.WeakKeyDictionary())


class FcmConfig(TemplatedConfig):
    project_id: str | None = Field(None, pattern=r"^[a-z0-9-]{4,40}$",
                                   description="Firebase project; default: the key file's project_id")
    api_base: str = Field("https://fcm.googleapis.com", pattern=r"^https?://\S+$", max_length=200)
    token_uri: str | None = Field(None, pattern=r"^https?://\S+$", max_length=200,
                                  description="Default: the key file's token_uri")


class ServiceAccount(BaseModel):
    model_config = ConfigDict(extra="ignore")

    client_email: str = Field(min_length=3)
    private_key: str = Field(min_length=40)
    token_uri: str = "https://oauth2.googleapis.com/token"
    project_id: str | None = None


def assertion(account: ServiceAccount, token_uri: str, now: float | None = None) -> str:
    """The signed JWT a service account presents for an access token."""
    key = serialization.load_pem_private_key(account.private_key.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the service account's private_key is not an RSA key")
    issued = int(now or time.time())
    claims = {"iss": account.client_email, "scope": SCOPE, "aud": token_uri, "iat": issued, "exp": issued + 3600}
    signing_input = (b64url(json.dumps({"alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode()) + "."
                     + b64url(json.dumps(claims, separators=(",", ":")).encode()))
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def _error_code(body: dict[str, Any]) -> str:
    """FCM's own code (UNREGISTERED, QUOTA_EXCEEDED...) when the error carries one, else the Google status."""
    raw = body.get("error")
    error: dict[str, Any] = raw if isinstance(raw, dict) else {}
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("errorCode"):
            return str(detail["errorCode"])
    return str(error.get("status") or "")


class FcmChannel(Channel):
    kind = "fcm"
    needs_recipient = True

    def __init__(self, config: dict[str, Any], secret: str | None) -> None:
        self.config = FcmConfig.model_validate(config)
        self.templates = self.config.templates
        self._secret = secret or ""

    def _account(self) -> ServiceAccount:
        try:
            return ServiceAccount.model_validate_json(self._secret)
        except ValidationError:
            raise ChannelError("the channel's secret is not a service-account key file (JSON with client_email "
                               "and private_key)", permanent=True) from None

    async def _token(self, session: aiohttp.ClientSession, account: ServiceAccount, token_uri: str) -> str:
        key = (account.client_email, token_uri)
        lock = _TOKEN_LOCKS.setdefault(asyncio.get_running_loop(), {}).setdefault(key, asyncio.Lock())
        async with lock:
            cached = _TOKENS.get(key)
            if cached and cached[1] > time.monotonic():
                return cached[0]
            return await self._new_token(session, account, token_uri)

    async def _new_token(self, session: aiohttp.ClientSession, account: ServiceAccount, token_uri: str) -> str:
        key = (account.client_email, token_uri)
        try:
            signed = assertion(account, token_uri)
        except ValueError as exc:
            raise ChannelError(f"the service account's private key is unusable: {exc}", permanent=True) from None
        form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": signed}
        async with session.post(token_uri, data=form) as resp:
            body: dict[str, Any] = await resp.json(content_type=None)
            if resp.status != 200 or "access_token" not in body:
                why = f"{body.get('error')} {body.get('error_description', '')}"[:200]
                raise ChannelError(f"token endpoint {resp.status}: {why}", permanent=resp.status in (400, 401, 403))
        _TOKENS[key] = (str(body["access_token"]), time.monotonic() + float(body.get("expires_in", 3600)) - 60)
        return str(body["access_token"])

    async def send(self, message: Outgoing, timeout_s: float) -> str:
        account = self._account()
        project = self.config.project_id or account.project_id
        if not project:
            raise ChannelError("no Firebase project: set project_id (the key file has none)", permanent=True)
        token_uri = self.config.token_uri or account.token_uri
        urgent = message.payload.get("priority") in ("CRITICAL", "HIGH")
        data = {k: str(v) for k, v in message.payload.items() if isinstance(v, str | int | float | bool)}
        body = {"message": {
            "token": message.recipient,
            "notification": {"title": message.subject[:200], "body": message.text[:1000]},
            "data": data,
            "android": {"priority": "high" if urgent else "normal"},
            "apns": {"headers": {"apns-priority": "10" if urgent else "5"}}}}
        url = f"{self.config.api_base.rstrip('/')}/v1/projects/{project}/messages:send"
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
                access = await self._token(session, account, token_uri)
                async with session.post(url, json=body, headers={"Authorization": f"Bearer {access}"}) as resp:
                    status = resp.status
                    reply: dict[str, Any] = await resp.json(content_type=None) if resp.content_length != 0 else {}
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ChannelError(f"FCM unreachable: {type(exc).__name__}: {exc}") from None
        if status == 200:
            return f"fcm {reply.get('name', '?')}"
        code = _error_code(reply)
        if status == 401:
            _TOKENS.pop((account.client_email, token_uri), None)  # expired or revoked: a new one next try
        raise ChannelError(f"FCM {status} {code}".strip(), permanent=status in (400, 403, 404))
