"""`vms-server tls fingerprint`: what site IT reads out to operators so they can check the fingerprint a client
shows on first connection (issue #18). Makes the self-signed certificate if it is missing, as `run` would."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Any

from vms_common.tls import TlsError, ensure_certificate

if TYPE_CHECKING:
    from vms_server.settings import Settings

logger = logging.getLogger(__name__)


def register(sub: Any) -> None:
    parser = sub.add_parser("tls", help="TLS certificate of the API: fingerprint",
                            description="Show the SHA-256 fingerprint clients pin (server.tls).")
    actions = parser.add_subparsers(dest="tls_command", required=True, metavar="ACTION")
    actions.add_parser("fingerprint", help="print the certificate's SHA-256 fingerprint").set_defaults(
        handler=fingerprint_command)


async def fingerprint_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        value = ensure_certificate(settings.server.tls, settings.data_dir)
    except TlsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if value is None:
        print("error: TLS is off (server.tls.mode = off)", file=sys.stderr)
        return 1
    print(value)
    return 0
