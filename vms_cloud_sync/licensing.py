"""Licence signing: the cloud backend issues licences with this; tests use it to make real ones."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vms_cloud_sync.protocol.licence import LicenceTerms, SignedLicence, key_fingerprint


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """The text a server puts in `licensing.public_keys`."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def sign(terms: LicenceTerms, key: Ed25519PrivateKey) -> SignedLicence:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    signature = base64.b64encode(key.sign(terms.canonical())).decode()
    return SignedLicence(terms=terms, key_id=key_fingerprint(raw), signature=signature)
