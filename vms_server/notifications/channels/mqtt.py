"""MQTT: events and camera availability on topics under a prefix, the shape Home Assistant and Frigate users
wire automations to:

- `{prefix}/events` and `{prefix}/cameras/{camera_id}/events`: one JSON document per event (QoS 1, not retained)
- `{prefix}/cameras/{camera_id}/availability`: `online` / `offline`, retained, so a subscriber that connects
  later learns the current state at once
- `{prefix}/available`: `online` while the server is connected, `offline` as its last will (retained)

The connection is kept between messages (a broker round trip per event would cap throughput) and dropped
on any error, so the next try reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import uuid
from typing import Any

import aiomqtt
from pydantic import BaseModel, ConfigDict, Field

from vms_server.notifications.channels.base import Channel, ChannelError, Outgoing


class MqttConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, max_length=255, description="Broker host")
    port: int = Field(1883, ge=1, le=65535)
    prefix: str = Field("vms", min_length=1, max_length=100, pattern=r"^[^#+\s]+$",
                        description="Topic prefix (no wildcards)")
    username: str | None = Field(None, max_length=255, description="Login; the password is the secret")
    tls: bool = Field(False, description="Connect with TLS (port 8883 usually)")
    client_id: str | None = Field(None, max_length=100, description="Client identifier (default: random)")


def topics_for(prefix: str, payload: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(topic, body, retain) for one queued payload."""
    camera = payload.get("camera_id")
    if payload.get("type") == "camera.availability":
        return [(f"{prefix}/cameras/{camera}/availability", str(payload.get("state", "offline")), True)]
    body = json.dumps(payload, separators=(",", ":"), default=str)
    topics = [(f"{prefix}/events", body, False)]
    if camera:
        topics.append((f"{prefix}/cameras/{camera}/events", body, False))
    return topics


class MqttChannel(Channel):
    kind = "mqtt"

    def __init__(self, config: dict[str, Any], secret: str | None) -> None:
        self.config = MqttConfig.model_validate(config)
        self._password = secret
        self._client: aiomqtt.Client | None = None
        self._lock = asyncio.Lock()

    def _new_client(self, timeout_s: float) -> aiomqtt.Client:
        cfg = self.config
        will = aiomqtt.Will(f"{cfg.prefix}/available", "offline", qos=1, retain=True)
        return aiomqtt.Client(cfg.host, cfg.port, username=cfg.username, password=self._password,
                              identifier=cfg.client_id or f"vms-{uuid.uuid4().hex[:12]}", will=will,
                              tls_context=ssl.create_default_context() if cfg.tls else None, timeout=timeout_s)

    async def _connected(self, timeout_s: float) -> aiomqtt.Client:
        if self._client is None:
            client = self._new_client(timeout_s)
            await client.__aenter__()
            self._client = client
            await client.publish(f"{self.config.prefix}/available", "online", qos=1, retain=True)
        return self._client

    async def send(self, message: Outgoing, timeout_s: float) -> str:
        topics = topics_for(self.config.prefix, message.payload)
        async with self._lock:
            try:
                client = await self._connected(timeout_s)
                for topic, body, retain in topics:
                    await client.publish(topic, body, qos=1, retain=retain, timeout=timeout_s)
            except aiomqtt.MqttCodeError as exc:
                await self._drop()
                permanent = getattr(exc, "rc", None) in (4, 5, 134, 135)  # bad credentials / not authorised
                raise ChannelError(f"MQTT broker refused: {exc}", permanent=permanent) from None
            except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
                await self._drop()
                raise ChannelError(f"MQTT failed: {type(exc).__name__}: {exc}") from None
        return f"published {len(topics)} topic(s)"

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError, OSError, TimeoutError):
                await client.__aexit__(None, None, None)

    async def close(self) -> None:
        async with self._lock:
            if self._client is not None:
                with contextlib.suppress(aiomqtt.MqttError, OSError, TimeoutError):
                    await self._client.publish(f"{self.config.prefix}/available", "offline", qos=1, retain=True)
            await self._drop()
