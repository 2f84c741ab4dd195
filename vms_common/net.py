"""Where a URL connects to: host and port, the port made explicit where the scheme implies it.

The camera code asks this in several places (whether a camera moved to another host, which ports a
diagnostic knocks on, where an ingest worker probes a camera that went away); one definition keeps them
agreeing on the default ports."""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}


def endpoint(url: str) -> tuple[str, int | None]:
    """(host, port) of `url`; the host lower-case ("" when there is none), the port None when the URL gives an
    invalid one and its scheme implies none."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.hostname or "", port or DEFAULT_PORTS.get(parts.scheme.lower())
