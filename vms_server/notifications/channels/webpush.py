"""Web Push (RFC 8030) with VAPID (RFC 8292) and message encryption (RFC 8291, `aes128gcm` of RFC 8188): the
alert reaches a browser or an installed web app on a phone or a control-room PC, through the push service its
browser vendor runs (Google, Mozilla, Apple), without an app store.

A recipient is the subscription as a browser gives it (`PushSubscription.toJSON()`):
`{"endpoint": "https://...", "keys": {"p256dh": "<base64url P-256 point>", "auth": "<base64url 16 bytes>"}}`.
The channel's secret is the VAPID private key (a PEM, or the base64url 32-byte scalar web-push tools print);
`subject` (a mailto: or https: URL) tells the push service whom to contact. The payload is encrypted for the
subscriber alone: the push service sees only its size.

A 201 is delivered. 404 and 410 mean the subscription is gone (the browser unsubscribed): permanent, so it goes
to the dead letters where an admin sees it. 413 is a payload too large, 400/401/403 a refused VAPID token, both
permanent; 429 and 5xx are retried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vms_server.notifications.channels.base import Channel, ChannelError, Outgoing, TemplatedConfig

RECORD_SIZE = 4096
MAX_PAYLOAD = RECORD_SIZE - 16 - 1  # one record: the GCM tag and the padding delimiter


class WebPushConfig(TemplatedConfig):
    subject: str = Field(pattern=r"^(mailto:|https://)\S+$", max_length=200,
                         description="VAPID contact: mailto:security@example.org or an https URL")
    ttl_s: int = Field(86400, ge=0, le=2419200, description="How long the push service keeps an undelivered alert")


class Subscription(BaseModel):
    model_config = ConfigDict(extra="ignore")

    endpoint: str = Field(pattern=r"^https?://\S+$", max_length=2000)
    keys: dict[str, str]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def load_vapid_key(secret: str) -> ec.EllipticCurvePrivateKey:
    """A PEM private key, or the raw 32-byte P-256 scalar in base64url. Raises ValueError."""
    text = secret.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("the VAPID key must be a P-256 (prime256v1) EC key")
        return key
    raw = unb64url(text)
    if len(raw) != 32:
        raise ValueError("a raw VAPID key is 32 bytes in base64url")
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


def public_point(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def vapid_header(key: ec.EllipticCurvePrivateKey, endpoint: str, subject: str, now: float | None = None) -> str:
    """`Authorization: vapid t=<ES256 JWT for the endpoint's origin>, k=<public key>` (RFC 8292)."""
    parts = urlsplit(endpoint)
    claims = {"aud": f"{parts.scheme}://{parts.netloc}", "exp": int((now or time.time()) + 12 * 3600), "sub": subject}
    signing_input = (b64url(json.dumps({"typ": "JWT", "alg": "ES256"}, separators=(",", ":")).encode()) + "."
                     + b64url(json.dumps(claims, separators=(",", ":")).encode()))
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    token = f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
    return f"vapid t={token}, k={b64url(public_point(key))}"


def encrypt(payload: bytes, ua_public: bytes, auth_secret: bytes, *, salt: bytes | None = None,
            sender: ec.EllipticCurvePrivateKey | None = None) -> bytes:
    """The request body: an RFC 8188 header (salt, record size, the sender's public key) and one record."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes; at most {MAX_PAYLOAD}")
    sender = sender or ec.generate_private_key(ec.SECP256R1())
    salt = salt or os.urandom(16)
    as_public = public_point(sender)
    shared = sender.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ua_public))
    # RFC 8291 section 3.4: the input keying material mixes in the subscription's auth secret and both keys.
    ikm = _hmac(_hmac(auth_secret, shared), b"WebPush: info\x00" + ua_public + as_public + b"\x01")
    prk = _hmac(salt, ikm)
    cek = _hmac(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]
    nonce = _hmac(prk, b"Content-Encoding: nonce\x00\x01")[:12]
    record = AESGCM(cek).encrypt(nonce, payload + b"\x02", None)  # \x02: the last (and only) record
    return salt + struct.pack(">IB", RECORD_SIZE, len(as_public)) + as_public + record


class WebPushChannel(Channel):
    kind = "webpush"
    needs_recipient = True

    def __init__(self, config: dict[str, Any], secret: str | None) -> None:
        self.config = WebPushConfig.model_validate(config)
        self.templates = self.config.templates
        self._secret = secret or ""

    def _subscription(self, recipient: str) -> tuple[str, bytes, bytes]:
        try:
            sub = Subscription.model_validate_json(recipient)
            ua_public, auth = unb64url(sub.keys["p256dh"]), unb64url(sub.keys["auth"])
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ua_public)
        except (ValidationError, KeyError, ValueError) as exc:
            raise ChannelError(f"not a push subscription (endpoint and keys p256dh, auth): {exc}"[:300],
                               permanent=True) from None
        if len(auth) != 16:
            raise ChannelError("the subscription's auth secret is not 16 bytes", permanent=True)
        return sub.endpoint, ua_public, auth

    async def send(self, message: Outgoing, timeout_s: float) -> str:
        endpoint, ua_public, auth = self._subscription(message.recipient)
        try:
            key = load_vapid_key(self._secret)
        except ValueError as exc:
            raise ChannelError(f"the channel's VAPID private key is unusable: {exc}", permanent=True) from None
        body = {"title": message.subject, "body": message.text[:1500], "event_id": message.payload.get("event_id"),
                "priority": message.payload.get("priority"), "url": message.payload.get("url")}
        data = json.dumps(body, separators=(",", ":")).encode()[:MAX_PAYLOAD]
        urgent = message.payload.get("priority") in ("CRITICAL", "HIGH")
        headers = {"Authorization": vapid_header(key, endpoint, self.config.subject), "TTL": str(self.config.ttl_s),
                   "Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream",
                   "Urgency": "high" if urgent else "normal"}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session, \
                    session.post(endpoint, data=encrypt(data, ua_public, auth), headers=headers) as resp:
                status, text = resp.status, (await resp.text())[:200]
                location = resp.headers.get("Location", "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ChannelError(f"push service unreachable: {type(exc).__name__}: {exc}") from None
        if status in (200, 201, 202):
            return f"push {status} {location}".strip()
        if status in (404, 410):
            raise ChannelError(f"push subscription gone ({status}): the browser unsubscribed", permanent=True)
        raise ChannelError(f"push service {status}: {text}", permanent=400 <= status < 500 and status != 429)
