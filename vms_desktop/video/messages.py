"""What a tile says when it has no picture: a plain headline the operator can act on, never a URL or a token.

FFmpeg and aiohttp errors carry the request URL, and playback and live URLs carry the access token in their
query (a media player cannot set headers). Shown as they were, a tile read
"playback failed: [Errno 1414092869] Immediate exit requested: 'http://…?access_token=…'" under the headline
"Camera offline", which was wrong on both counts. Errors are sorted here into the few states a tile knows;
the technical detail goes to the debug log with the token masked.
"""

from __future__ import annotations

import re
import ssl
import urllib.error

import av

# state -> headline. The state travels with a short plain message (the tile's second line).
STATE_TEXT = {
    "connecting": "Connecting…",
    "loading": "Loading…",
    "offline": "Camera offline",
    "unreachable": "Server unreachable",
    "failed": "Playback failed",
    "no_recording": "Nothing recorded here",
    "error": "No picture",
    "unauthorised": "Not authorised",
    "unsupported": "Unsupported stream",
    "licence": "No licence for this camera",
    "empty": "Drop a camera here",
}

_TOKEN = re.compile(r"((?:access_|refresh_|mfa_)?token=)[^&\s'\"]+", re.IGNORECASE)
_URL = re.compile(r"['\"]?\b[a-z][a-z0-9+.-]*://[^\s'\"]+['\"]?", re.IGNORECASE)


def redact(text: str) -> str:
    """The text with every token value masked (for logs: the URL helps, the token must not be there)."""
    return _TOKEN.sub(r"\1***", text)


def plain(text: str) -> str:
    """The text without URLs (and so without tokens): what may be painted on a tile."""
    cleaned = _URL.sub("", redact(text))
    cleaned = re.sub(r"\s+", " ", cleaned).strip(" :;,-")
    return re.sub(r"\s+([:;,.])", r"\1", cleaned)


def http_status(exc: BaseException) -> int:
    """The HTTP status a failed playback request was answered with (FFmpeg's or Python's client), or 0."""
    if isinstance(exc, urllib.error.HTTPError):
        return int(exc.code)
    for cls, status in ((av.error.HTTPNotFoundError, 404), (av.error.HTTPUnauthorizedError, 401),
                        (av.error.HTTPForbiddenError, 403), (av.error.HTTPServerError, 500)):
        if isinstance(exc, cls):
            return status
    return 0


CERTIFICATE_CHANGED = "the server's certificate is not the trusted one (possible interception); not connecting"


def playback_error(exc: BaseException) -> tuple[str, str]:
    """(state, message) for an error opening or reading a recording over HTTP."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ssl.SSLCertVerificationError):  # the pin (or the CAs) refused the certificate
        return "failed", CERTIFICATE_CHANGED
    if isinstance(exc, urllib.error.HTTPError):
        status = http_status(exc)
        if status == 404:
            return "no_recording", "no recording at this time"
        if status in (401, 403):
            return "unauthorised", "not allowed to play this camera, or the session expired"
        if status >= 500:
            return "failed", "the server is busy or restarting (too many playback streams?)"
        return "failed", "the server could not play this recording"
    if isinstance(exc, urllib.error.URLError):  # no answer: refused, unknown host, timed out
        return "unreachable", "the server did not answer; retry or check the network"
    if isinstance(exc, av.error.HTTPNotFoundError):
        return "no_recording", "no recording at this time"
    if isinstance(exc, (av.error.HTTPUnauthorizedError, av.error.HTTPForbiddenError)):
        return "unauthorised", "not allowed to play this camera, or the session expired"
    if isinstance(exc, av.error.HTTPServerError):
        return "failed", "the server is busy or restarting (too many playback streams?)"
    if isinstance(exc, av.error.HTTPError):
        return "failed", "the server could not play this recording"
    # ExitError is the open timeout's interrupt ("Immediate exit requested"): the server did not answer.
    if isinstance(exc, (av.error.ExitError, ConnectionError, TimeoutError)):
        return "unreachable", "the server did not answer; retry or check the network"
    return "failed", "the recording could not be read"


def retriable(exc: BaseException) -> bool:
    """Whether a failed playback request is worth asking again: a 5xx (503 is the server's answer beyond
    `recording.max_playback_streams`, 502/504 a restart), a refused connection or no answer. A 404 or 401
    will not change by asking again."""
    if isinstance(exc, urllib.error.HTTPError):
        return http_status(exc) >= 500
    return isinstance(exc, (av.error.HTTPServerError, av.error.ExitError, urllib.error.URLError, ConnectionError,
                            TimeoutError))
