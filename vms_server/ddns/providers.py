"""One update request per provider, following each provider's documented protocol, reduced to an Answer.

Answers are sorted into three kinds because the updater must treat them differently: success (good, nochg),
temporary trouble (retry with back-off: 911, dnserr, HTTP 5xx, network errors) and permanent refusal (stop and
say so: repeating a request with bad credentials gets an account blocked for abuse by No-IP and Dynu)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from string import Formatter
from typing import Any, Literal
from urllib.parse import quote

import aiohttp

from vms_common import __version__
from vms_server.ddns.settings import DdnsSettings

logger = logging.getLogger(__name__)

Kind = Literal["good", "nochg", "temporary", "permanent"]
# No-IP asks clients to identify themselves; a missing or generic agent is answered `badagent`.
USER_AGENT = f"VMS ddns-updater/{__version__} admin@localhost"

# dyndns2 return codes (No-IP, Dynu, dyn.com): those that repeating the same request will not fix.
DYNDNS2_PERMANENT = {"badauth", "nohost", "notfqdn", "numhost", "abuse", "badagent", "!donator", "!yours",
                     "nochglocked"}
DYNDNS2_TEMPORARY = {"911", "dnserr"}


@dataclass(frozen=True)
class Answer:
    kind: Kind
    detail: str  # the provider's words (never the secret), e.g. "good 203.0.113.7", "badauth"

    @property
    def ok(self) -> bool:
        return self.kind in ("good", "nochg")


class ProviderError(Exception):
    """A temporary failure reaching the provider (network, timeout); retried with back-off."""


def redact(text: str, settings: DdnsSettings) -> str:
    """Remove the secret (raw and URL-quoted) from a message: aiohttp errors can quote request URLs."""
    if settings.secret is None:
        return text
    raw = settings.secret.get_secret_value()
    for form in {raw, quote(raw, safe="")}:
        if form:
            text = text.replace(form, "***")
    return text


async def _get_text(http: aiohttp.ClientSession, url: str, settings: DdnsSettings,
                    **kwargs: Any) -> tuple[int, str]:
    headers = {"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}
    async with http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=settings.timeout_s),
                        **kwargs) as resp:
        return resp.status, (await resp.text(errors="replace")).strip()


async def dyndns2(http: aiohttp.ClientSession, settings: DdnsSettings, ip: str) -> Answer:
    """GET {base}/nic/update?hostname=..&myip=.. with basic auth; the first word of the body is the code."""
    assert settings.secret is not None and settings.username is not None and settings.hostname is not None
    pair = f"{settings.username}:{settings.secret.get_secret_value()}".encode()
    auth = {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    status, body = await _get_text(http, f"{settings.api_base()}/nic/update", settings, headers=auth,
                                   params={"hostname": settings.hostname, "myip": ip})
    code = body.split()[0] if body else ""
    if code in ("good", "nochg"):
        return Answer(code, body[:200])  # type: ignore[arg-type]
    if code in DYNDNS2_PERMANENT or status == 401:
        return Answer("permanent", code or f"HTTP {status}")
    if code in DYNDNS2_TEMPORARY or status >= 500 or status == 429:
        return Answer("temporary", code or f"HTTP {status}")
    return Answer("temporary", f"unexpected answer (HTTP {status}): {body[:100]}")


async def duckdns(http: aiohttp.ClientSession, settings: DdnsSettings, ip: str) -> Answer:
    """GET {base}/update?domains=..&token=..&ip=..; the body is OK or KO (wrong token or domain: permanent)."""
    assert settings.secret is not None and settings.hostname is not None
    domain = settings.hostname.removesuffix(".duckdns.org")
    status, body = await _get_text(http, f"{settings.api_base()}/update", settings, params={
        "domains": domain, "token": settings.secret.get_secret_value(), "ip": ip})
    first = body.splitlines()[0] if body else ""
    if status == 200 and first == "OK":
        return Answer("good", f"OK {ip}")
    if status == 200 and first == "KO":
        return Answer("permanent", "KO (token or domain refused)")
    return Answer("temporary", f"unexpected answer (HTTP {status}): {body[:100]}")


def _cf_errors(payload: Any) -> str:
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if isinstance(errors, list) and errors:
        return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict))[:300]
    return "no error given"


async def cloudflare(http: aiohttp.ClientSession, settings: DdnsSettings, ip: str) -> Answer:
    """API v4 with a bearer token: find the zone, then the A record, then PATCH its content when it differs."""
    assert settings.secret is not None and settings.hostname is not None
    base = settings.api_base()
    headers = {"Authorization": f"Bearer {settings.secret.get_secret_value()}", "User-Agent": USER_AGENT}
    timeout = aiohttp.ClientTimeout(total=settings.timeout_s)

    async def call(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with http.request(method, base + path, headers=headers, timeout=timeout, **kwargs) as resp:
            try:
                return resp.status, await resp.json(content_type=None)
            except ValueError:
                return resp.status, None

    def failed(status: int, payload: Any, what: str) -> Answer | None:
        if status < 400 and isinstance(payload, dict) and payload.get("success") is True:
            return None
        kind: Kind = "permanent" if status in (400, 401, 403, 404) else "temporary"
        return Answer(kind, f"{what}: HTTP {status}, {_cf_errors(payload)}")

    zone_name = settings.zone or ".".join(settings.hostname.split(".")[-2:])
    status, payload = await call("GET", "/zones", params={"name": zone_name})
    if (bad := failed(status, payload, "zone lookup")) is not None:
        return bad
    zones = payload.get("result") or []
    if not zones:
        return Answer("permanent", f"zone {zone_name} not found for this token")
    zone_id = zones[0]["id"]
    status, payload = await call("GET", f"/zones/{zone_id}/dns_records",
                                 params={"type": "A", "name": settings.hostname})
    if (bad := failed(status, payload, "record lookup")) is not None:
        return bad
    records = payload.get("result") or []
    if not records:
        return Answer("permanent", f"no A record {settings.hostname} in zone {zone_name}")
    record = records[0]
    if record.get("content") == ip:
        return Answer("nochg", f"nochg {ip}")
    status, payload = await call("PATCH", f"/zones/{zone_id}/dns_records/{record['id']}", json={"content": ip})
    if (bad := failed(status, payload, "record update")) is not None:
        return bad
    return Answer("good", f"good {ip}")


async def custom(http: aiohttp.ClientSession, settings: DdnsSettings, ip: str) -> Answer:
    """GET the `custom_url` template filled in (values URL-quoted); 2xx is success, 401/403/404 a refusal."""
    assert settings.custom_url is not None
    values = {"hostname": settings.hostname or "", "ip": ip, "username": settings.username or "",
              "secret": settings.secret.get_secret_value() if settings.secret else ""}
    url = Formatter().vformat(settings.custom_url, (), {k: quote(v, safe="") for k, v in values.items()})
    status, body = await _get_text(http, url, settings)
    if 200 <= status < 300:
        return Answer("good", f"HTTP {status} {body[:100]}".strip())
    kind: Kind = "permanent" if status in (401, 403, 404) else "temporary"
    return Answer(kind, f"HTTP {status} {body[:100]}".strip())


Updater = Callable[[aiohttp.ClientSession, DdnsSettings, str], Awaitable[Answer]]
PROVIDERS: dict[str, Updater] = {
    "noip": dyndns2, "dynu": dyndns2, "dyndns2": dyndns2, "duckdns": duckdns, "cloudflare": cloudflare,
    "custom": custom,
}


async def send_update(http: aiohttp.ClientSession, settings: DdnsSettings, ip: str) -> Answer:
    """Send one update; network trouble becomes a temporary Answer with the secret removed from its text."""
    try:
        answer = await PROVIDERS[settings.provider](http, settings, ip)
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
        answer = Answer("temporary", f"{type(exc).__name__}: {exc}")
    return Answer(answer.kind, redact(answer.detail, settings))
