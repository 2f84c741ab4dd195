"""The server's TLS listener: the code is shared with the cloud backend in `vms_common.tls` (issue #18)."""

from vms_common.tls import (
    CERT_FILE,
    KEY_FILE,
    TlsError,
    TlsSection,
    cert_paths,
    der_fingerprint,
    ensure_certificate,
    fingerprint,
    generate_self_signed,
    server_context,
)

__all__ = ["CERT_FILE", "KEY_FILE", "TlsError", "TlsSection", "cert_paths", "der_fingerprint",
           "ensure_certificate", "fingerprint", "generate_self_signed", "server_context"]
