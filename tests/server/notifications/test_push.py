"""Mobile and browser push (issue 16): the channels against local servers that do what the providers document.

The Web Push service checks the VAPID token (RFC 8292: ES256 JWT for its origin, signed by the key in `k`) and
decrypts the body as a browser does (RFC 8291/8188), with the subscription's private key and its own HKDF; the
FCM server checks the service account's RS256 assertion at its token endpoint (RFC 7523) and the bearer token on
`messages:send`, and answers UNREGISTERED for a dead device token as FCM does.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tests.server.helpers import ApiClient
from tests.server.notifications.conftest import add_camera, messages, raise_event, rule, wait_for
from vms_server.analytics.types import Priority


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(hashes.SHA256(), length, salt, info).derive(ikm)


@dataclass
class Browser:
    """A subscribed browser: its key pair and auth secret, and what it decrypted."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def public(self) -> bytes:
        return self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                  serialization.PublicFormat.UncompressedPoint)

    def subscription(self, endpoint: str) -> str:
        return json.dumps({"endpoint": endpoint, "expirationTime": None,
                           "keys": {"p256dh": _b64(self.public), "auth": _b64(self.auth)}})

    def decrypt(self, body: bytes) -> bytes:
        salt, record_size, key_length = body[:16], *struct.unpack(">IB", body[16:21])
        sender = body[21:21 + key_length]
        assert record_size >= len(body) - 21 - key_length, "one record"
        shared = self.key.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender))
        ikm = _hkdf(self.auth, shared, b"WebPush: info\x00" + self.public + sender, 32)
        cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
        nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
        padded = AESGCM(cek).decrypt(nonce, body[21 + key_length:], None)
        assert padded.rstrip(b"\x00").endswith(b"\x02"), "the last record's delimiter"
        return padded.rstrip(b"\x00")[:-1]


@dataclass
class PushService:
    browser: Browser
    port: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    def _check_vapid(self, request: web.Request) -> None:
        scheme, _, params = request.headers["Authorization"].partition(" ")
        assert scheme == "vapid"
        values = dict(p.strip().split("=", 1) for p in params.split(","))
        token, public = values["t"], _unb64(values["k"])
        head, claims, signature = token.split(".")
        raw = _unb64(signature)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
        key.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # raises InvalidSignature
        body = json.loads(_unb64(claims))
        assert json.loads(_unb64(head))["alg"] == "ES256"
        assert body["aud"] == f"http://127.0.0.1:{self.port}" and body["exp"] > time.time()
        assert body["sub"] == "mailto:security@example.org"

    async def push(self, request: web.Request) -> web.Response:
        if request.match_info["id"] == "gone":
            return web.Response(status=410, text="subscription expired")
        try:
            self._check_vapid(request)
        except (AssertionError, KeyError, ValueError, InvalidSignature) as exc:
            return web.Response(status=403, text=f"bad VAPID: {exc!r}")
        assert request.headers["Content-Encoding"] == "aes128gcm"
        self.headers.append(dict(request.headers))
        self.received.append(json.loads(self.browser.decrypt(await request.read())))
        return web.Response(status=201, headers={"Location": f"/messages/{len(self.received)}"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/push/{id}", self.push)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]


@dataclass
class FcmServer:
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    port: int = 0
    tokens_issued: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    def key_file(self) -> str:
        pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()
        return json.dumps({"type": "service_account", "project_id": "vms-site-7", "client_email":
                           "vms@vms-site-7.iam.gserviceaccount.com", "private_key": pem,
                           "token_uri": f"http://127.0.0.1:{self.port}/token"})

    async def token(self, request: web.Request) -> web.Response:
        form = parse_qs((await request.read()).decode())
        assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
        head, claims, signature = form["assertion"][0].split(".")
        try:
            self.key.public_key().verify(_unb64(signature), f"{head}.{claims}".encode(), padding.PKCS1v15(),
                                         hashes.SHA256())
        except InvalidSignature:
            return web.json_response({"error": "invalid_grant", "error_description": "bad signature"}, status=400)
        body = json.loads(_unb64(claims))
        assert body["aud"] == f"http://127.0.0.1:{self.port}/token" and body["iss"].endswith("gserviceaccount.com")
        assert body["scope"] == "https://www.googleapis.com/auth/firebase.messaging" and body["exp"] > time.time()
        self.tokens_issued += 1
        return web.json_response({"access_token": "ya29.test-token", "expires_in": 3599, "token_type": "Bearer"})

    async def send(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer ya29.test-token":
            return web.json_response({"error": {"code": 401, "status": "UNAUTHENTICATED"}}, status=401)
        assert request.match_info["project"] == "vms-site-7"
        message = (await request.json())["message"]
        if message["token"] == "dead-device":
            return web.json_response({"error": {"code": 404, "status": "NOT_FOUND", "details": [
                {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}},
                status=404)
        self.sent.append(message)
        return web.json_response({"name": f"projects/vms-site-7/messages/{len(self.sent)}"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/token", self.token)
        app.router.add_post("/v1/projects/{project}/messages:send", self.send)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]


@pytest.fixture
async def push_service() -> AsyncIterator[PushService]:
    service = PushService(Browser())
    await service.start()
    yield service
    assert service.runner is not None
    await service.runner.cleanup()


@pytest.fixture
async def fcm() -> AsyncIterator[FcmServer]:
    server = FcmServer()
    await server.start()
    yield server
    assert server.runner is not None
    await server.runner.cleanup()


async def _statuses(api: ApiClient, event_id: uuid.UUID) -> list[str]:
    return sorted(m["status"] for m in await messages(api, event_id=event_id))


async def test_web_push_reaches_the_browser_encrypted_and_a_gone_subscription_is_dead(
        api: ApiClient, push_service: PushService) -> None:
    vapid = ec.generate_private_key(ec.SECP256R1())
    raw_key = _b64(vapid.private_numbers().private_value.to_bytes(32, "big"))  # as web-push tools print it
    channel = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
        "name": "browsers", "kind": "webpush", "secret": raw_key,
        "config": {"subject": "mailto:security@example.org"}})
    assert raw_key not in json.dumps(channel)
    base = f"http://127.0.0.1:{push_service.port}/push"
    await rule(api, [channel["id"]], recipients=[push_service.browser.subscription(f"{base}/desk-7"),
                                                  push_service.browser.subscription(f"{base}/gone")])
    event_id = await raise_event(api, await add_camera(api, "Loading bay"), priority=Priority.CRITICAL)
    await wait_for(lambda: len(push_service.received) == 1)
    alert = push_service.received[0]
    assert alert["event_id"] == str(event_id) and alert["priority"] == "CRITICAL"
    assert "intrusion" in alert["title"] and "Loading bay" in alert["title"] + alert["body"]
    assert push_service.headers[0]["Urgency"] == "high" and int(push_service.headers[0]["TTL"]) > 0
    await wait_for(lambda: _done(api, event_id))
    dead = [m for m in await messages(api, event_id=event_id) if m["status"] == "DEAD"]
    assert len(dead) == 1 and "410" in dead[0]["last_error"] and dead[0]["attempts"] == 1


async def _done(api: ApiClient, event_id: uuid.UUID) -> bool:
    return await _statuses(api, event_id) == ["DEAD", "SENT"]


async def test_fcm_sends_with_one_access_token_and_an_unregistered_device_is_dead(
        api: ApiClient, fcm: FcmServer) -> None:
    channel = await api.ok("POST", "/api/v1/notifications/channels", status=201, json={
        "name": "guards' phones", "kind": "fcm", "secret": fcm.key_file(),
        "config": {"api_base": f"http://127.0.0.1:{fcm.port}"}})
    assert "PRIVATE KEY" not in json.dumps(channel)
    await rule(api, [channel["id"]], recipients=["phone-of-guard-1", "phone-of-guard-2", "dead-device"])
    camera = await add_camera(api, "North fence")
    first = await raise_event(api, camera, priority=Priority.HIGH)
    await wait_for(lambda: len(fcm.sent) == 2)
    await wait_for(lambda: _done_fcm(api, first))
    second = await raise_event(api, camera, event_type="loitering", priority=Priority.STANDARD)
    await wait_for(lambda: len(fcm.sent) == 4)
    assert fcm.tokens_issued == 1, "the access token is reused until it expires"
    tokens = sorted(m["token"] for m in fcm.sent)
    assert tokens == ["phone-of-guard-1", "phone-of-guard-1", "phone-of-guard-2", "phone-of-guard-2"]
    urgent = next(m for m in fcm.sent if m["data"].get("event_id") == str(first))
    assert urgent["android"]["priority"] == "high" and "North fence" in urgent["notification"]["title"]
    calm = next(m for m in fcm.sent if m["data"].get("event_id") == str(second))
    assert calm["android"]["priority"] == "normal" and calm["apns"]["headers"]["apns-priority"] == "5"
    dead = [m for m in await messages(api, event_id=first) if m["status"] == "DEAD"]
    assert "UNREGISTERED" in dead[0]["last_error"] and dead[0]["attempts"] == 1


async def _done_fcm(api: ApiClient, event_id: uuid.UUID) -> bool:
    return await _statuses(api, event_id) == ["DEAD", "SENT", "SENT"]


async def test_push_channel_configuration_is_checked(api: ApiClient) -> None:
    resp = await api.call("POST", "/api/v1/notifications/channels", json={
        "name": "x", "kind": "webpush", "secret": "k", "config": {"subject": "security team"}})
    assert resp.status == 422 and "subject" in (await resp.json())["error"]["message"]
    resp = await api.call("POST", "/api/v1/notifications/channels", json={
        "name": "y", "kind": "fcm", "secret": "{}", "config": {"project_id": "Not A Project!"}})
    assert resp.status == 422
