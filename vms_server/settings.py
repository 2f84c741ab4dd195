"""Server settings: one typed tree, read from a TOML file and `VMS_*` environment variables.

Environment variables win over the file so that a packaged `/etc/vms/server.toml` can be overridden per
service instance (`VMS_SERVER__PORT=8081`). Nested keys use a double underscore.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from vms_common.auth.passwords import Argon2Section
from vms_common.tls import TlsOnSection
from vms_server.analytics.config import AnalyticsSettings
from vms_server.anpr.config import AnprSettings
from vms_server.cloudsync.config import CloudSyncSettings
from vms_server.cluster.settings import ClusterSettings
from vms_server.config.settings import ConfigCacheSettings
from vms_server.ddns.settings import DdnsSettings
from vms_server.discovery.settings import DiscoverySettings
from vms_server.inference.settings import InferenceSettings
from vms_server.metrics.settings import MetricsSettings
from vms_server.notifications.settings import NotificationSettings
from vms_server.recording.config import RecordingSettings
from vms_server.upnp.settings import NetworkSettings
from vms_server.watchdog.settings import WatchdogSettings

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(Exception):
    """Raised when the configuration cannot be used; the message is meant for a human."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def default_data_dir() -> Path:
    """Where an un-configured server keeps its data: the platform's per-machine location for root/services."""
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "VMS"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/vms")
    return Path.home() / ".local" / "share" / "vms"


class ServerSection(_Section):
    host: str = Field("127.0.0.1", description="Address the HTTP API listens on")
    port: int = Field(8080, ge=1, le=65535, description="TCP port of the HTTP API")
    public_url: str | None = Field(None, description="URL operators use to reach this server, if behind NAT")
    downloads_dir: Path | None = Field(
        None, description="Folder of client installers offered at /downloads and on the landing page (default: "
                          "<data_dir>/downloads)")
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, le=512 * 1024 * 1024, description="Largest JSON request body accepted"
    )
    shutdown_timeout: float = Field(10.0, ge=0, le=300, description="Seconds to finish requests on shutdown")
    ntp_server: str | None = Field(
        None, description="NTP server (host or host:port) that /health/detailed compares the clock with; unset: "
                          "the clock is not checked and no NTP query is sent")
    max_clock_drift_s: float = Field(
        10.0, gt=0, le=3600, description="Clock offset from the NTP server above which health is degraded "
                                         "(TOTP codes work up to 30 s)")
    tls: TlsOnSection = Field(default_factory=TlsOnSection,
                            description="HTTPS/WSS on the same listener, on by default with a certificate made in "
                                        "the data directory (docs/network.md); plain HTTP only with mode = off")


class DatabaseSection(_Section):
    url: str | None = Field(
        None,
        description="SQLAlchemy URL (sqlite+aiosqlite:///..., postgresql+asyncpg://...); "
        "default: SQLite in the data directory",
    )
    pool_size: int = Field(10, ge=1, le=200, description="Connections kept open (server databases only)")
    echo: bool = Field(False, description="Log every SQL statement (debugging only)")


class LoggingSection(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "text"] = Field(
        "auto", description="json for journald/log shippers, text for humans; auto: text on a terminal, json otherwise")


class RateLimitSection(_Section):
    window_seconds: int = Field(300, ge=1, le=86400, description="Sliding window for failed logins")
    per_user: int = Field(5, ge=1, le=1000, description="Failed logins per username per window")
    per_ip: int = Field(20, ge=1, le=100000, description="Failed logins per client address per window")


class SecuritySection(_Section):
    access_token_minutes: int = Field(15, ge=1, le=1440, description="Lifetime of an access JWT")
    refresh_token_days: int = Field(30, ge=1, le=365, description="Lifetime of a refresh token family")
    mfa_required: bool = Field(True, description="Every user must enrol TOTP before getting tokens")
    ip_allowlist: list[IpNetwork] = Field(
        default_factory=list, description="If not empty, only these networks may call the API"
    )
    trust_forwarded_for: bool = Field(
        False, description="Take the client address from X-Forwarded-For: the rightmost entry that is not a "
                           "trusted proxy (only behind a reverse proxy)")
    trusted_proxies: list[IpNetwork] = Field(
        default_factory=list, description="Reverse proxies whose X-Forwarded-For entries are believed; empty: only "
                                          "the directly connected one (the header is ignored from other callers)")
    argon2: Argon2Section = Field(default_factory=Argon2Section)
    login_rate_limit: RateLimitSection = Field(default_factory=RateLimitSection)
    key_store: Literal["file", "keyring"] = Field(
        "file", description="Where the master secret lives: a root-only file in the data dir, or the OS keyring"
    )


class LicensingSection(_Section):
    public_keys: list[str] = Field(
        default_factory=list, description="Ed25519 public keys (base64, raw 32 bytes) trusted to sign licences"
    )
    unlicensed_camera_limit: int = Field(
        4, ge=0, le=64, description="Cameras allowed before a licence is imported (evaluation)"
    )


class Settings(BaseSettings):
    """The whole server configuration. Build it with `load_settings`, not directly."""

    model_config = SettingsConfigDict(
        env_prefix="VMS_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Field(default_factory=default_data_dir, description="Database, keys and recordings")
    server: ServerSection = Field(default_factory=ServerSection)
    database: DatabaseSection = Field(default_factory=DatabaseSection)
    logging: LoggingSection = Field(default_factory=LoggingSection)
    security: SecuritySection = Field(default_factory=SecuritySection)
    licensing: LicensingSection = Field(default_factory=LicensingSection)
    recording: RecordingSettings = Field(default_factory=RecordingSettings)
    watchdog: WatchdogSettings = Field(default_factory=WatchdogSettings)
    config_cache: ConfigCacheSettings = Field(default_factory=ConfigCacheSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    anpr: AnprSettings = Field(default_factory=AnprSettings)
    inference: InferenceSettings = Field(default_factory=InferenceSettings)
    cloud_sync: CloudSyncSettings = Field(default_factory=CloudSyncSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    discovery: DiscoverySettings = Field(default_factory=DiscoverySettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    ddns: DdnsSettings = Field(default_factory=DdnsSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{self.data_dir / 'vms.db'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = _CONFIG_FILE.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


# pydantic-settings builds sources from the class; the file path is handed over here for one load.
_CONFIG_FILE: dict[str, Path | None] = {"path": None}


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(root)"
        env = "VMS_" + "__".join(str(part) for part in item["loc"]).upper()
        lines.append(f"  {key}: {item['msg']} (file key '{key}' or environment {env})")
    return "invalid configuration:\n" + "\n".join(lines)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from `config_file` (TOML, optional), the environment and `overrides`.

    Raises SettingsError with one line per bad key, naming the file key and the environment variable.
    """
    if config_file is not None and not config_file.is_file():
        raise SettingsError(f"configuration file not found: {config_file}")
    _CONFIG_FILE["path"] = config_file
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
    except ValueError as exc:  # malformed TOML
        raise SettingsError(f"cannot read {config_file}: {exc}") from None
    finally:
        _CONFIG_FILE["path"] = None
