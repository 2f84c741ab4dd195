"""Backend settings: a TOML file (--config or VMS_CLOUD_CONFIG) and VMS_CLOUD_* environment variables."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from vms_common.auth.passwords import Argon2Section
from vms_common.auth.ratelimit import RateLimitSection
from vms_common.tls import TlsOnSection


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseSection(_Section):
    url: str = Field("postgresql+asyncpg://vms_cloud_app@127.0.0.1:5432/vms_cloud",
                     description="URL the service runs as: a role that does NOT own the tables, so RLS applies")
    admin_url: str = Field("postgresql+asyncpg://postgres@127.0.0.1:5432/vms_cloud",
                           description="Owner URL used only by `vms-cloud init` / `migrate`")
    app_role: str = Field("vms_cloud_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$",
                          description="The non-owner role migrations grant rights to")
    pool_size: int = Field(10, ge=1, le=200)


class StorageSection(_Section):
    kind: Literal["directory", "s3"] = Field("directory", description="Where clips live")
    s3_endpoint: str | None = Field(None, description="S3-compatible endpoint URL (None: AWS)")
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_bucket_prefix: str = Field("vms-clips", pattern=r"^[a-z0-9-]{3,20}$",
                                  description="Each tenant gets the bucket <prefix>-<tenant id>")


class ServerSection(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8090, ge=1, le=65535)
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024,
                                description="Largest request body (ingest batch or clip chunk)")
    token_hours: float = Field(12.0, gt=0, le=720, description="Lifetime of an HQ login")
    enrolment_token_hours: float = Field(72.0, gt=0, le=24 * 90)
    metrics_token: SecretStr | None = Field(None, description="Bearer token Prometheus presents for /metrics "
                                                               "(platform operators may scrape too)")
    trusted_proxies: list[IPv4Network | IPv6Network] = Field(
        default_factory=list, max_length=100,
        description="TLS-terminating proxies whose X-Forwarded-Proto is believed: a portal login through one "
                    "that says https gets a Secure cookie (from anyone else the header is ignored)")
    tls: TlsOnSection = Field(default_factory=TlsOnSection,
                            description="HTTPS on the backend's own listener, on by default (a certificate made in "
                                        "the data directory); mode = off only behind a TLS-terminating proxy")


class PortalSection(_Section):
    refresh_s: float = Field(15.0, ge=0.5, le=3600,
                             description="How often the overview, events and incidents pages refresh their lists "
                                         "in place (no full reload)")
    sla_uptime_pct: float = Field(99.0, ge=0, le=100,
                                  description="Uptime a camera must reach over the statistics period to meet "
                                              "the SLA (the statistics page's compliance per camera model)")
    sla_jobs_pct: float = Field(99.0, ge=0, le=100,
                                description="Share of an analytics model's jobs that must answer within its SLA "
                                            "over the statistics period; below it the model is marked red")


class CloudSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VMS_CLOUD_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Field(Path("/var/lib/vms-cloud"), description="Secrets, signing key, clip storage")
    database: DatabaseSection = Field(default_factory=DatabaseSection)
    storage: StorageSection = Field(default_factory=StorageSection)
    server: ServerSection = Field(default_factory=ServerSection)
    argon2: Argon2Section = Field(default_factory=Argon2Section)
    portal: PortalSection = Field(default_factory=PortalSection)
    login_rate_limit: RateLimitSection = Field(default_factory=RateLimitSection,
                                               description="Failed logins allowed per username and per address "
                                                           "(API and portal)")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _TOML_FILE.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)


_TOML_FILE: dict[str, Path | None] = {"path": None}


class CloudSettingsError(Exception):
    """The configuration cannot be used; the message names the bad keys."""


def load_cloud_settings(config_file: Path | None = None, **overrides: Any) -> CloudSettings:
    if config_file is not None and not config_file.is_file():
        raise CloudSettingsError(f"configuration file not found: {config_file}")
    _TOML_FILE["path"] = config_file
    try:
        return CloudSettings(**overrides)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise CloudSettingsError("invalid settings: " + "; ".join(lines)) from None
    finally:
        _TOML_FILE["path"] = None
