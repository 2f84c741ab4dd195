"""The licence document: terms signed with Ed25519 by the cloud, verified offline by every server.

The signature covers a canonical JSON form of the terms (sorted keys, no spaces, UTC ISO timestamps) so
that any re-serialisation on the way (a proxy, a text editor) does not break verification, while any
change to a value does.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import hashlib
import json
import uuid
from typing import Annotated

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

SERVER_ID_PATTERN = r"^srv-[0-9a-f]{20}$"  # what `vms-server licence show` prints


class Analytics(enum.StrEnum):
    """The ten built-in analytics a customer can purchase."""

    INTRUSION = "intrusion_detection"
    MOTION = "advanced_motion_detection"
    TAMPERING = "camera_tampering"
    FIRE_SMOKE = "fire_smoke_detection"
    CROWD = "crowd_detection"
    MISSING_OBJECT = "missing_object_detection"
    ABNORMAL_BEHAVIOUR = "abnormal_behavior"
    FALLEN = "fallen_detection"
    TAILGATING = "tailgating"
    ANPR = "anpr"


class LicenceTerms(BaseModel):
    model_config = ConfigDict(extra="forbid")

    licence_id: str = Field(min_length=1, max_length=100)
    customer_id: uuid.UUID | None = None
    customer_name: str = Field(min_length=1, max_length=200)
    max_cameras: int = Field(ge=0, le=100_000)
    analytics: list[Analytics] = Field(default_factory=list)
    valid_from: dt.datetime
    valid_until: dt.datetime
    grace_days: int = Field(14, ge=0, le=365)
    issued_at: dt.datetime
    server_ids: list[Annotated[str, StringConstraints(pattern=SERVER_ID_PATTERN)]] = Field(
        default_factory=list, max_length=1000,
        description="Servers the licence is for (`vms-server licence show` prints a server's id); empty: any "
                    "server of the customer")

    @model_validator(mode="after")
    def _window(self) -> LicenceTerms:
        for name in ("valid_from", "valid_until", "issued_at"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name} must carry a time zone")
        return self

    def canonical(self) -> bytes:
        data = self.model_dump(mode="json")
        for name in ("valid_from", "valid_until", "issued_at"):
            data[name] = getattr(self, name).astimezone(dt.UTC).isoformat()
        data["analytics"] = sorted(data["analytics"])
        # Licences signed before servers could be named carry no such key; an empty list keeps their form.
        if data["server_ids"]:
            data["server_ids"] = sorted(data["server_ids"])
        else:
            del data["server_ids"]
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


class SignedLicence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    terms: LicenceTerms
    key_id: str = Field(description="Fingerprint of the signing key (first 16 hex of SHA-256 of the raw key)")
    signature: str = Field(description="Base64 Ed25519 signature of the canonical terms")


class LicenceInvalid(Exception):
    """The document is malformed, not signed by a trusted key, or was altered."""


def key_fingerprint(raw_public_key: bytes) -> str:
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


def load_public_key(text: str) -> tuple[str, Ed25519PublicKey]:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return key_fingerprint(raw), Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise LicenceInvalid("a configured licence public key is not a base64 Ed25519 key") from None


def parse(document: str | bytes) -> SignedLicence:
    try:
        return SignedLicence.model_validate_json(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise LicenceInvalid(f"not a licence document ({where}: {first['msg']})") from None


def verify(licence: SignedLicence, trusted_keys: list[str]) -> LicenceTerms:
    """Return the terms if a trusted key signed exactly these terms; raise LicenceInvalid otherwise."""
    if not trusted_keys:
        raise LicenceInvalid("no licence public key is configured (licensing.public_keys)")
    keys = dict(load_public_key(k) for k in trusted_keys)
    key = keys.get(licence.key_id)
    if key is None:
        raise LicenceInvalid(f"licence signed by an unknown key ({licence.key_id})")
    try:
        key.verify(base64.b64decode(licence.signature, validate=True), licence.terms.canonical())
    except (InvalidSignature, binascii.Error, ValueError):
        raise LicenceInvalid("licence signature does not match its terms (the document was altered)") from None
    # Checked here, after the signature, not in the model: a window that ends before it starts is a licence
    # that is never valid (refused like any other that does not bind), not a malformed document.
    if licence.terms.valid_until <= licence.terms.valid_from:
        raise LicenceInvalid("the licence is never valid (valid_until is not after valid_from)")
    return licence.terms
