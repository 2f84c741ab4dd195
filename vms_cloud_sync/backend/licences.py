"""Licence issuing: the platform signs terms with its Ed25519 key (vms_cloud_sync.licensing); edges pull
the newest licence of their tenant and verify it offline with the public key."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vms_cloud_sync import licensing
from vms_cloud_sync.backend.models import IssuedLicence, Tenant
from vms_cloud_sync.protocol.licence import Analytics, LicenceTerms
from vms_common.db.base import utcnow
from vms_common.errors import InvalidInput, NotFound, NotReady
from vms_common.files import write_private

KEY_FILE = "licence-signing.pem"


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def generate_signing_key(data_dir: Path, overwrite: bool = False) -> str:
    """Write a new signing key (mode 600) and return its public key for the servers' configuration."""
    path = key_path(data_dir)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --force to replace it (old licences stay valid only "
                              f"where servers still trust the old public key)")
    key = licensing.generate_key()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    write_private(path, pem, overwrite=overwrite)  # 0600 from creation, never readable in between
    return licensing.public_key_b64(key)


def load_signing_key(data_dir: Path) -> Ed25519PrivateKey:
    """Raises NotReady when the platform has no signing key yet."""
    path = key_path(data_dir)
    if not path.exists():
        raise NotReady("no licence signing key; run `vms-cloud licence keygen`")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise NotReady(f"{path} is not an Ed25519 key")
    return key


async def issue(session: AsyncSession, key: Ed25519PrivateKey, tenant_id: uuid.UUID, max_cameras: int,
                analytics: list[str], valid_days: int, grace_days: int, issued_by: str,
                server_ids: list[str] | None = None, after: dt.datetime | None = None) -> IssuedLicence:
    """Sign and store a licence for the tenant (session scoped to that tenant, with platform rights).
    `server_ids`: the servers it is for (each prints its id with `vms-server licence show`); none: any.
    `after`: a renewal's `valid_days` count from there when it is still ahead (the current licence's end)."""
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("no such tenant")
    try:
        chosen = [Analytics(a) for a in analytics]
    except ValueError:
        raise InvalidInput(f"unknown analytics; choose from {', '.join(a.value for a in Analytics)}") from None
    now = utcnow()
    terms = LicenceTerms(licence_id=f"lic-{uuid.uuid4().hex[:12]}", customer_id=tenant_id,
                         customer_name=tenant.name, max_cameras=max_cameras, analytics=chosen, valid_from=now,
                         valid_until=max(now, after or now) + dt.timedelta(days=valid_days), grace_days=grace_days,
                         issued_at=now,
                         server_ids=sorted(set(server_ids or [])))
    signed = licensing.sign(terms, key)
    row = IssuedLicence(tenant_id=tenant_id, licence_id=terms.licence_id, document=signed.model_dump_json(),
                        issued_by=issued_by, issued_at=now)
    session.add(row)
    await session.flush()
    return row


async def current(session: AsyncSession) -> IssuedLicence | None:
    """The newest licence visible in this (tenant-scoped) session."""
    return await session.scalar(select(IssuedLicence).order_by(IssuedLicence.issued_at.desc()).limit(1))
