"""How one node trusts another over HTTPS: by the certificate fingerprint the other published in its row.

With TLS on by default every node serves HTTPS, most often with its own self-signed certificate that no CA
vouches for. Nodes share the database, so each writes the SHA-256 fingerprint of the certificate it serves
next to its URL (`cluster_nodes.tls_fingerprint`); a node calling another pins exactly that certificate,
the way an operator's client pins a server (`aiohttp.Fingerprint`: the chain and the host name are not
checked, the exact certificate is). A node without a fingerprint (TLS off, or an https:// `advertise_url`
in front of it) is verified by the system CAs as usual; there is no unverified fall back.
"""

from __future__ import annotations

import logging

import aiohttp

logger = logging.getLogger(__name__)


def peer_ssl(url: str, fingerprint: str) -> aiohttp.Fingerprint | bool:
    """The `ssl=` of a request to another node at `url` that published `fingerprint` ("AA:BB:..." or "")."""
    if url.startswith("https://") and fingerprint:
        return aiohttp.Fingerprint(bytes.fromhex(fingerprint.replace(":", "")))
    return True  # http://, or https:// with no published pin: the default verification
