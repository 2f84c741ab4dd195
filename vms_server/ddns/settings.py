"""Server settings of the dynamic-DNS updater (`[ddns]` in the TOML file, `VMS_DDNS__*` in the environment).

The secret (password or API token) is a SecretStr so that it never appears in a repr, a log line or the API;
`VMS_DDNS__SECRET` keeps it out of the settings file where the site prefers that."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

Provider = Literal["noip", "dynu", "dyndns2", "duckdns", "cloudflare", "custom"]

# Where each provider's documented update API lives; `base_url` replaces it (a test server, a reseller).
DEFAULT_BASE_URLS: dict[str, str] = {
    "noip": "https://dynupdate.no-ip.com",
    "dynu": "https://api.dynu.com",
    "duckdns": "https://www.duckdns.org",
    "cloudflare": "https://api.cloudflare.com/client/v4",
}


class DdnsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(False, description="Keep `hostname` pointing at this site's public address")
    provider: Provider = Field(
        "noip", description="noip, dynu, dyndns2 (any other dyndns2 service: set base_url), duckdns, cloudflare "
                            "or custom (custom_url)")
    hostname: str | None = Field(
        None, min_length=1, max_length=253,
        description="Name to update (DuckDNS: the sub-domain, without .duckdns.org; Cloudflare: the A record)")
    username: str | None = Field(None, max_length=200, description="Account name (No-IP, Dynu, dyndns2)")
    secret: SecretStr | None = Field(
        None, description="Password (dyndns2) or token (DuckDNS, Cloudflare API token); better given as "
                          "VMS_DDNS__SECRET; never logged nor shown by the API")
    zone: str | None = Field(
        None, max_length=253, description="Cloudflare zone name (default: the last two labels of hostname)")
    base_url: str | None = Field(
        None, description="Provider API base URL (default: the provider's public one; dyndns2 requires it)")
    custom_url: str | None = Field(
        None, description="custom provider: URL template with {hostname}, {ip}, {username}, {secret}; a 2xx "
                          "answer is success, 401/403/404 a refusal")
    ip_url: str = Field(
        "https://api.ipify.org", description="'What is my IP' URL answering the public IPv4 address as plain text")
    fixed_ip: ipaddress.IPv4Address | None = Field(
        None, description="Publish this address instead of asking ip_url")
    interval_s: float = Field(300.0, ge=1, le=86400, description="How often the public address is checked")
    refresh_hours: float = Field(
        24.0, gt=0, le=720, description="Send an update this often even when the address is unchanged "
                                        "(providers expire records that are never refreshed)")
    backoff_initial_s: float = Field(60.0, ge=0.01, le=86400, description="First retry delay after an error")
    backoff_max_s: float = Field(3600.0, ge=0.01, le=86400, description="Longest retry delay (doubling)")
    timeout_s: float = Field(15.0, gt=0, le=120, description="Time limit of each HTTP request")

    @model_validator(mode="after")
    def _complete(self) -> DdnsSettings:
        if not self.enabled:
            return self
        missing = []
        if self.provider != "custom" and not self.hostname:
            missing.append("hostname")
        if self.provider in ("noip", "dynu", "dyndns2") and not self.username:
            missing.append("username")
        if self.provider != "custom" and self.secret is None:
            missing.append("secret")
        if self.provider == "custom" and not self.custom_url:
            missing.append("custom_url")
        if self.provider == "dyndns2" and not self.base_url:
            missing.append("base_url")
        if missing:
            raise ValueError(f"ddns provider {self.provider} needs {', '.join(missing)}")
        return self

    def api_base(self) -> str:
        return (self.base_url or DEFAULT_BASE_URLS.get(self.provider, "")).rstrip("/")
