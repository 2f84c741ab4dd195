"""Real Ed25519 licences for tests, signed with the cloud's signing helper."""

from __future__ import annotations

import datetime as dt
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vms_cloud_sync.licensing import generate_key, public_key_b64, sign
from vms_cloud_sync.protocol.licence import LicenceTerms, SignedLicence


def terms(max_cameras: int = 10, *, days_from: int = -1, days_until: int = 365, grace: int = 14,
          licence_id: str = "LIC-1", customer_id: uuid.UUID | None = None,
          server_ids: list[str] | None = None) -> LicenceTerms:
    now = dt.datetime.now(dt.UTC)
    return LicenceTerms(licence_id=licence_id, customer_id=customer_id, server_ids=server_ids or [],
                        customer_name="ACME", max_cameras=max_cameras,
                        analytics=["camera_tampering", "intrusion_detection"],  # type: ignore[list-item]
                        valid_from=now + dt.timedelta(days=days_from), valid_until=now + dt.timedelta(days=days_until),
                        grace_days=grace, issued_at=now)


class Issuer:
    def __init__(self) -> None:
        self.key: Ed25519PrivateKey = generate_key()
        self.public = public_key_b64(self.key)

    def issue(self, **kwargs: object) -> SignedLicence:
        return sign(terms(**kwargs), self.key)  # type: ignore[arg-type]
