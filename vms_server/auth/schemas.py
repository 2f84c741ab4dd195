"""Request and response models of the auth and users API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vms_common.auth.passwords import new_password_schema
from vms_common.auth.roles import Role


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class LoginRequest(_In):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)
    totp_code: str | None = Field(None, pattern=r"^\d{6}$", description="Give it up front to log in in one step")


class MfaRequest(_In):
    mfa_token: str = Field(min_length=10, max_length=2000)
    code: str = Field(pattern=r"^\d{6}$")


class MfaTokenRequest(_In):
    mfa_token: str = Field(min_length=10, max_length=2000)


class RefreshRequest(_In):
    refresh_token: str = Field(min_length=10, max_length=200)


class LoginResponse(BaseModel):
    """Tokens (status ok), or a challenge: send `mfa_token` and a TOTP code to /auth/mfa/verify
    (after /auth/mfa/enroll when the status is mfa_enrollment_required)."""

    status: Literal["ok", "mfa_required", "mfa_enrollment_required"]
    access_token: str | None = None
    refresh_token: str | None = None
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int | None = Field(None, description="Seconds until the access token expires")
    mfa_token: str | None = Field(None, description="Short-lived proof of the password, for the MFA step")


class MfaEnrollment(BaseModel):
    secret: str = Field(description="Base32 TOTP secret, shown once")
    otpauth_uri: str = Field(description="otpauth:// URI for an authenticator app (QR code)")


class UserOut(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str | None
    role: Role
    disabled: bool
    mfa_enabled: bool
    site_ids: list[uuid.UUID] = Field(description="Empty: the user sees every site")
    created_at: dt.datetime
    last_login_at: dt.datetime | None


class UserList(BaseModel):
    items: list[UserOut]


class UserCreate(_In):
    username: str = Field(min_length=2, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=1, max_length=1024, json_schema_extra=new_password_schema)
    role: Role
    display_name: str | None = Field(None, max_length=200)
    site_ids: list[uuid.UUID] = Field(default_factory=list)


class UserUpdate(_In):
    display_name: str | None = Field(None, max_length=200)
    role: Role | None = None
    disabled: bool | None = None
    site_ids: list[uuid.UUID] | None = None
    password: str | None = Field(None, min_length=1, max_length=1024, json_schema_extra=new_password_schema)
    reset_mfa: bool = Field(False, description="Forget the user's TOTP secret so they enrol again")
