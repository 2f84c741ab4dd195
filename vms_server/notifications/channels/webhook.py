"""Webhook: the event as JSON, signed so that the receiver can tell it came from this server and is fresh.

Signature: `X-VMS-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>` with the Unix time in
`X-VMS-Timestamp`. A receiver recomputes it over the raw body, compares in constant time and rejects a
timestamp older than its replay window (docs/notifications.md suggests 300 s); `X-VMS-Delivery` is the message
id, identical on every retry, so a receiver can also drop a duplicate."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from vms_server.notifications.channels.base import Channel, ChannelError, Outgoing


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(description="Endpoint the JSON is POSTed to")
    verify_tls: bool = Field(True, description="Check the endpoint's certificate")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The value of X-VMS-Signature (receivers: compare with hmac.compare_digest)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, window_s: float = 300.0,
           now: float | None = None) -> bool:
    """What a receiver does: a good signature over a timestamp inside the replay window."""
    try:
        age = abs((time.time() if now is None else now) - float(timestamp))
    except ValueError:
        return False
    return age <= window_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookChannel(Channel):
    kind = "webhook"

    def __init__(self, config: dict[str, Any], secret: str | None) -> None:
        self.config = WebhookConfig.model_validate(config)
        self._secret = secret or ""
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, message: Outgoing, timeout_s: float) -> str:
        body = json.dumps(message.payload, separators=(",", ":"), default=str).encode()
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-VMS-Timestamp": ts, "X-VMS-Delivery": message.message_id,
                   "User-Agent": "vms-server-notifications"}
        if self._secret:
            headers["X-VMS-Signature"] = sign(self._secret, ts, body)
        if self._session is None or self._session.closed:
            # Kept between messages: a connection per event would cap a burst at the TCP/TLS handshake rate.
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(str(self.config.url), data=body, headers=headers,
                                          ssl=self.config.verify_tls,
                                          timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
                text = (await resp.text())[:200]
                if resp.status < 300:
                    return f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ChannelError(f"webhook unreachable: {type(exc).__name__}: {exc}") from None
        # A 4xx other than timeout/too-many-requests will answer the same to every retry.
        permanent = 400 <= resp.status < 500 and resp.status not in (408, 425, 429)
        raise ChannelError(f"webhook answered HTTP {resp.status}: {text}", permanent=permanent)
