"""Server settings of the ICE servers (`[network.ice]`): STUN and TURN URLs given to WebRTC peers.

TURN uses coturn's `use-auth-secret` scheme (the "TURN REST API"): the server and coturn share a secret, and
every client gets a credential of its own that expires after `turn_ttl_s`; nothing long-lived leaves the server.
The secret is a SecretStr so that it never appears in a repr, a log line or an answer."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

# RFC 7064/7065 URIs: scheme, host (name, IPv4 or [IPv6]), optional port, optional ?transport= (TURN only)
_URI = re.compile(r"^(stuns?|turns?):(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?(\?transport=(udp|tcp))?$")


def _check_uris(urls: list[str], schemes: tuple[str, ...]) -> list[str]:
    for url in urls:
        match = _URI.match(url)
        if match is None or match.group(1) not in schemes:
            raise ValueError(f"{url!r} is not a {' or '.join(schemes)} URI (e.g. {schemes[0]}:host:3478)")
        if match.group(1).startswith("stun") and match.group(4):
            raise ValueError(f"{url!r}: a STUN URI takes no transport")
    return urls


class IceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stun_urls: list[str] = Field(
        default_factory=list, max_length=8,
        description="STUN servers given to WebRTC peers, e.g. stun:turn.example.com:3478 (empty: none)")
    turn_urls: list[str] = Field(
        default_factory=list, max_length=8,
        description="TURN servers, e.g. turn:turn.example.com:3478?transport=udp, turns:turn.example.com:5349")
    turn_secret: SecretStr | None = Field(
        None, description="coturn's static-auth-secret (use-auth-secret); better as the environment variable "
                          "VMS_NETWORK__ICE__TURN_SECRET. Required with turn_urls")
    turn_ttl_s: int = Field(3600, ge=60, le=86400,
                            description="Lifetime of the TURN credentials handed to a client")
    turn_on_server: bool = Field(
        True, description="The server's own WebRTC side gathers TURN relay candidates too (for a server "
                          "behind a NAT that peers cannot reach directly)")

    @field_validator("stun_urls")
    @classmethod
    def _stun(cls, value: list[str]) -> list[str]:
        return _check_uris(value, ("stun", "stuns"))

    @field_validator("turn_urls")
    @classmethod
    def _turn(cls, value: list[str]) -> list[str]:
        return _check_uris(value, ("turn", "turns"))

    @model_validator(mode="after")
    def _secret_with_turn(self) -> IceSettings:
        if self.turn_urls and (self.turn_secret is None or not self.turn_secret.get_secret_value()):
            raise ValueError("turn_urls need turn_secret (coturn's static-auth-secret)")
        return self
