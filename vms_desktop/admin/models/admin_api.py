"""The administration screens' one client layer: every REST path they use is here, and what comes back is a
typed row, so widgets neither build URLs nor pick through JSON.

Errors are the `ClientError`s of `vms_desktop.client.api`; a server refusal (`ServerError`) carries the
server's own message (e.g. "this action needs the admin role", "username already taken"), which the screens
show as it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from vms_desktop.client.api import ServerError, Unreachable, VmsClient

logger = logging.getLogger(__name__)
API = "/api/v1"
ADMIN_ROLES = frozenset({"admin"})
SUPERVISOR_ROLES = frozenset({"supervisor", "admin"})


@dataclass(frozen=True)
class CameraRow:
    """A configured camera as the admin table shows it. Credentials never come back: only whether a secret
    is stored (`has_secret`)."""

    id: str
    name: str
    site_id: str
    enabled: bool
    onvif_url: str
    main_url: str
    sub_url: str
    username: str
    has_secret: bool
    tags: tuple[str, ...]
    ptz: bool
    model: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CameraRow:
        streams = {str(s.get("role")): str(s.get("rtsp_url", "")) for s in data.get("streams", [])}
        return cls(id=str(data["id"]), name=str(data["name"]), site_id=str(data["site_id"]),
                   enabled=bool(data.get("enabled", True)), onvif_url=str(data.get("onvif_url") or ""),
                   main_url=streams.get("main", ""), sub_url=streams.get("sub", ""),
                   username=str(data.get("username") or ""), has_secret=bool(data.get("has_secret")),
                   tags=tuple(str(t) for t in data.get("tags", [])), ptz=bool(data.get("ptz")),
                   model=" ".join(str(data.get(k) or "") for k in ("manufacturer", "model")).strip())


@dataclass(frozen=True)
class Imaging:
    """A camera's picture settings as it reports them, with what it accepts (GET /cameras/{id}/imaging)."""

    brightness: float | None
    brightness_range: tuple[float, float] | None
    ir_cut_filter: str
    ir_cut_filter_modes: tuple[str, ...]
    focus_position: float | None
    focus_moving: bool

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Imaging:
        rng = data.get("brightness_range")
        brightness, focus = data.get("brightness"), data.get("focus_position")
        return cls(brightness=None if brightness is None else float(brightness),
                   brightness_range=(float(rng[0]), float(rng[1])) if rng else None,
                   ir_cut_filter=str(data.get("ir_cut_filter") or ""),
                   ir_cut_filter_modes=tuple(str(m) for m in data.get("ir_cut_filter_modes", [])),
                   focus_position=None if focus is None else float(focus), focus_moving=bool(data.get("focus_moving")))


@dataclass(frozen=True)
class EventTopicRow:
    """An ONVIF event topic the camera says it can raise (GET /cameras/{id}/event-topics)."""

    topic: str
    is_property: bool
    data: tuple[str, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EventTopicRow:
        return cls(topic=str(data["topic"]), is_property=bool(data.get("is_property")),
                   data=tuple(str(d) for d in data.get("data", [])))


@dataclass(frozen=True)
class UserRow:
    id: str
    username: str
    display_name: str
    role: str
    disabled: bool
    mfa_enabled: bool
    site_ids: tuple[str, ...]
    last_login_at: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UserRow:
        return cls(id=str(data["id"]), username=str(data["username"]),
                   display_name=str(data.get("display_name") or ""), role=str(data["role"]),
                   disabled=bool(data.get("disabled")), mfa_enabled=bool(data.get("mfa_enabled")),
                   site_ids=tuple(str(s) for s in data.get("site_ids", [])),
                   last_login_at=str(data.get("last_login_at") or ""))


@dataclass(frozen=True)
class FoundDevice:
    """A device a discovery job found; `onvif_url` is what a bulk add takes."""

    host: str
    onvif_url: str
    source: str
    name: str
    model: str
    onvif_status: str
    rtsp_ports: tuple[int, ...]
    already_added: bool

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FoundDevice:
        return cls(host=str(data.get("host", "")), onvif_url=str(data.get("onvif_url") or ""),
                   source=str(data.get("source", "")), name=str(data.get("name") or ""),
                   model=" ".join(str(data.get(k) or "") for k in ("manufacturer", "model")).strip(),
                   onvif_status=str(data.get("onvif_status") or ""),
                   rtsp_ports=tuple(int(p) for p in data.get("rtsp_ports", [])),
                   already_added=bool(data.get("already_added")))


@dataclass(frozen=True)
class DiscoveryJob:
    id: str
    state: str
    progress: float
    found: tuple[FoundDevice, ...]
    error: str

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DiscoveryJob:
        return cls(id=str(data["id"]), state=str(data.get("state", "")), progress=float(data.get("progress", 0)),
                   found=tuple(FoundDevice.from_json(d) for d in data.get("found", [])),
                   error=str(data.get("error") or ""))


@dataclass(frozen=True)
class Refusal:
    item: str
    code: str
    message: str


@dataclass(frozen=True)
class BulkReport:
    """What a bulk add or CSV import did: cameras added, and each refused item (address or 'row N') with why."""

    added: tuple[CameraRow, ...]
    refused: tuple[Refusal, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BulkReport:
        return cls(added=tuple(CameraRow.from_json(c) for c in data.get("added", [])),
                   refused=tuple(Refusal(str(r.get("item", "")), str(r.get("code", "")), str(r.get("message", "")))
                                 for r in data.get("refused", [])))


@dataclass(frozen=True)
class Diagnosis:
    """The server's network diagnostics of one camera: the problems in plain words, and the whole report as
    text for a support ticket (the structured checks stay on the server's answer for the API's users)."""

    camera_id: str
    name: str
    problems: tuple[str, ...]
    report: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Diagnosis:
        return cls(camera_id=str(data.get("camera_id", "")), name=str(data.get("name", "")),
                   problems=tuple(str(p) for p in data.get("problems", [])), report=str(data.get("report", "")))


@dataclass(frozen=True)
class AuditPage:
    items: tuple[dict[str, Any], ...]
    next_before_id: int | None


@dataclass
class AuditFilter:
    """The audit viewer's filter; empty fields are not sent. `action` may be a prefix ending in '.'."""

    actor: str = ""
    action: str = ""
    target_type: str = ""
    limit: int = 200
    extra: dict[str, str] = field(default_factory=dict)

    def params(self) -> dict[str, str]:
        params = {k: v for k, v in (("actor", self.actor), ("action", self.action),
                                    ("target_type", self.target_type)) if v}
        return {**params, "limit": str(self.limit), **self.extra}


def _inner(message: str) -> str:
    """The server's own words inside the client's "the server is not available (...); retrying"."""
    start, end = message.find("("), message.rfind(")")
    return message[start + 1:end] if 0 <= start < end else message


def _secret(password: str) -> dict[str, str]:
    return {"password": password} if password else {}


class AdminApi:
    """Typed calls of the administration screens over one logged-in `VmsClient`."""

    def __init__(self, client: VmsClient) -> None:
        self.client = client

    @property
    def role(self) -> str:
        return self.client.role

    def may_administer(self) -> bool:
        return self.role in ADMIN_ROLES

    def may_supervise(self) -> bool:
        return self.role in SUPERVISOR_ROLES

    async def _call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None,
                    timeout_s: float | None = None) -> Any:
        try:
            return await self.client.request(method, API + path, body, params=params, timeout_s=timeout_s)
        except Unreachable as exc:
            # A 502 carrying the server's own error code is the camera failing a probe (unreachable, wrong
            # credentials), not the server restarting: say what the server said about the camera.
            if exc.status == 502 and exc.code:
                raise ServerError(_inner(exc.message), status=502, code=exc.code) from None
            raise

    # --- sites and cameras -------------------------------------------------------------------------

    async def sites(self) -> list[tuple[str, str]]:
        """(id, name) of the sites this user may see, for the site pickers."""
        tree = await self._call("GET", "/tree")
        return [(str(s["id"]), str(s["name"])) for s in tree.get("sites", [])]

    async def cameras(self) -> list[CameraRow]:
        rows: list[CameraRow] = []
        cursor = ""
        while True:
            params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
            page = await self._call("GET", "/cameras", params=params)
            rows += [CameraRow.from_json(c) for c in page.get("items", [])]
            cursor = str(page.get("next_cursor") or "")
            if not cursor:
                return rows

    async def add_camera_by_url(self, *, name: str, site_id: str, main_url: str, sub_url: str = "",
                                username: str = "", password: str = "", tags: list[str] | None = None) -> CameraRow:
        """Add a camera from its RTSP stream address(es); credentials are sent as digest when a user is given."""
        streams = [{"role": "main", "rtsp_url": main_url}] + ([{"role": "sub", "rtsp_url": sub_url}] if sub_url else [])
        body: dict[str, Any] = {"name": name, "site_id": site_id, "streams": streams, "tags": tags or []}
        if username:
            secret = {"secret": password} if password else {}
            body["credentials"] = {"method": "digest", "username": username, **secret}
        return CameraRow.from_json(await self._call("POST", "/cameras", body))

    async def add_camera_by_onvif(self, *, name: str, site_id: str, onvif_url: str, username: str = "",
                                  password: str = "", tags: list[str] | None = None) -> CameraRow:
        """Add a camera from its ONVIF device address: the server reads its streams and PTZ."""
        body = {"name": name, "site_id": site_id, "onvif_url": onvif_url, "tags": tags or [],
                **({"username": username} if username else {}), **_secret(password)}
        return CameraRow.from_json(await self._call("POST", "/cameras/from-onvif", body))

    async def test_connection(self, *, rtsp_url: str = "", onvif_url: str = "", username: str = "",
                              password: str = "") -> str:
        """Connect to a stream (RTSP) or a device (ONVIF) once, as the server would, and say what answered:
        "H264 1920x1080 at 25 fps" or "Acme X1 with 2 profiles (1920x1080, 640x360)". Raises ClientError with
        the server's reason (wrong credentials, unreachable, not a camera)."""
        credentials = {**({"username": username} if username else {}), **_secret(password)}
        if onvif_url:
            found = await self._call("POST", "/cameras/onvif-probe", {"onvif_url": onvif_url, **credentials})
            sizes = ", ".join(f"{p.get('width')}x{p.get('height')}" for p in found.get("profiles", []))
            who = " ".join(str(found.get(k) or "") for k in ("manufacturer", "model")).strip() or "ONVIF device"
            return f"{who} with {len(found.get('profiles', []))} profile(s) ({sizes})"
        found = await self._call("POST", "/cameras/rtsp-probe", {"rtsp_url": rtsp_url, **credentials})
        return f"{found.get('codec')} {found.get('width')}x{found.get('height')} at {found.get('fps'):g} fps"

    async def update_camera(self, camera_id: str, changes: dict[str, Any]) -> CameraRow:
        """PATCH the given fields (name, enabled, tags, streams, credentials...)."""
        return CameraRow.from_json(await self._call("PATCH", f"/cameras/{camera_id}", changes))

    async def delete_camera(self, camera_id: str) -> bool:
        await self._call("DELETE", f"/cameras/{camera_id}")
        return True

    async def diagnose(self, camera_id: str, sample_s: float = 3.0, udp: bool = False) -> Diagnosis:
        """Run the server's network diagnostics of a camera (a few seconds: `sample_s` per stream and check);
        `udp` also plays each stream over UDP to measure the network's loss."""
        # Each stream is read two or three times for `sample_s` (rates, RTP over TCP, over UDP), one stream
        # after another.
        timeout_s = 30.0 + 9 * sample_s
        return Diagnosis.from_json(await self._call("POST", f"/cameras/{camera_id}/diagnostics",
                                                    {"sample_s": sample_s, "udp": udp}, timeout_s=timeout_s))

    async def start_scan(self, ip_range: str, *, username: str = "", password: str = "",
                         onvif_ports: list[int] | None = None, rtsp_ports: list[int] | None = None,
                         connect_timeout_s: float = 3.0) -> DiscoveryJob:
        """Start an IP range scan (CIDR or from-to); poll `job` for the devices found. The connect timeout is
        the server's per address; 3 s lets a busy camera (or a busy recorder) answer."""
        body: dict[str, Any] = {"range": ip_range, "connect_timeout_s": connect_timeout_s,
                                **({"username": username} if username else {}), **_secret(password)}
        if onvif_ports:
            body["onvif_ports"] = onvif_ports
        if rtsp_ports:
            body["rtsp_ports"] = rtsp_ports
        return DiscoveryJob.from_json(await self._call("POST", "/discovery/scan", body))

    async def start_ws_discovery(self, timeout_s: float = 3.0) -> DiscoveryJob:
        return DiscoveryJob.from_json(await self._call("POST", "/discovery/ws-discovery", {"timeout_s": timeout_s}))

    async def job(self, job_id: str) -> DiscoveryJob:
        return DiscoveryJob.from_json(await self._call("GET", f"/discovery/jobs/{job_id}"))

    async def bulk_add(self, site_id: str, onvif_urls: list[str], *, username: str = "", password: str = "",
                       tags: list[str] | None = None) -> BulkReport:
        body = {"site_id": site_id, "cameras": [{"onvif_url": u} for u in onvif_urls], "tags": tags or [],
                **({"username": username} if username else {}), **_secret(password)}
        return BulkReport.from_json(await self._call("POST", "/cameras/bulk", body))

    async def import_csv(self, text: str, site_id: str = "") -> BulkReport:
        body = {"csv": text, **({"site_id": site_id} if site_id else {})}
        return BulkReport.from_json(await self._call("POST", "/cameras/import-csv", body))

    async def recording_policy(self, camera_id: str) -> dict[str, Any]:
        return dict(await self._call("GET", f"/cameras/{camera_id}/recording-policy"))

    async def set_recording_policy(self, camera_id: str, policy: dict[str, Any]) -> dict[str, Any]:
        """Replace a camera's recording policy (modes, schedule windows, pre/post roll, retention)."""
        return dict(await self._call("PUT", f"/cameras/{camera_id}/recording-policy", policy))

    # --- analytics ---------------------------------------------------------------------------------

    async def analytics_models(self) -> list[dict[str, Any]]:
        """The server's models: title, requirements, JSON schema of the config, licensed or why not."""
        return list((await self._call("GET", "/analytics/models")).get("items", []))

    async def camera_analytics(self, camera_id: str) -> dict[str, dict[str, Any]]:
        """The models configured on a camera, by model name (enabled or not, with their config)."""
        items = (await self._call("GET", f"/cameras/{camera_id}/analytics")).get("items", [])
        return {str(item["model"]): dict(item) for item in items}

    async def set_camera_analytics(self, camera_id: str, model: str, *, enabled: bool,
                                   config: dict[str, Any]) -> dict[str, Any]:
        """Enable (or keep disabled) a model on a camera with a config; the server refuses with its reason."""
        body = {"enabled": enabled, "config": config}
        return dict(await self._call("PUT", f"/cameras/{camera_id}/analytics/{model}", body))

    async def snapshot(self, camera_id: str) -> bytes:
        """A JPEG of the camera now (the picture zones are drawn on)."""
        return await self.client.get_bytes(f"{API}/cameras/{camera_id}/snapshot")

    # --- users -------------------------------------------------------------------------------------

    async def users(self) -> list[UserRow]:
        return [UserRow.from_json(u) for u in (await self._call("GET", "/users")).get("items", [])]

    async def create_user(self, *, username: str, password: str, role: str, display_name: str = "",
                          site_ids: list[str] | None = None) -> UserRow:
        body = {"username": username, "password": password, "role": role, "site_ids": site_ids or [],
                **({"display_name": display_name} if display_name else {})}
        return UserRow.from_json(await self._call("POST", "/users", body))

    async def update_user(self, user_id: str, changes: dict[str, Any]) -> UserRow:
        """PATCH role, site_ids, disabled, password, display_name or reset_mfa."""
        return UserRow.from_json(await self._call("PATCH", f"/users/{user_id}", changes))

    # --- configuration hierarchy -------------------------------------------------------------------

    async def config_keys(self) -> list[dict[str, Any]]:
        """Every configuration key with its description, default and JSON schema."""
        return list((await self._call("GET", "/config/keys")).get("items", []))

    async def effective(self, key: str, *, camera_id: str = "", site_id: str = "") -> dict[str, Any]:
        """{key, value, level, model} of one key at a camera, a site, or the system (neither given)."""
        params = {"key": key, **({"camera_id": camera_id} if camera_id else {}), **({"site_id": site_id} if site_id
                                                                                   else {})}
        items = (await self._call("GET", "/config/effective", params=params)).get("items", [])
        return dict(items[0]) if items else {}

    async def set_config(self, scope: str, scope_id: str, values: dict[str, Any], comment: str = "") -> dict[str, Any]:
        """Set (or, with None, remove) overrides at one level: a new configuration version."""
        body = {"scope": scope, "values": values, **({"scope_id": scope_id} if scope_id else {}),
                **({"comment": comment} if comment else {})}
        return dict(await self._call("PUT", "/config/values", body))

    async def config_versions(self, limit: int = 100) -> list[dict[str, Any]]:
        return list((await self._call("GET", "/config/versions", params={"limit": str(limit)})).get("items", []))

    async def restore_config(self, version: int) -> dict[str, Any]:
        """Make the configuration what it was right after `version` (itself a new version)."""
        return dict(await self._call("POST", f"/config/versions/{version}/restore"))

    # --- licence, audit, health --------------------------------------------------------------------

    async def licence(self) -> dict[str, Any]:
        return dict(await self._call("GET", "/licence"))

    async def import_licence(self, document: dict[str, Any]) -> dict[str, Any]:
        """Install a signed licence document (the JSON file a licence comes as); the new licence status."""
        return dict(await self._call("POST", "/licence", document))

    async def audit(self, query: AuditFilter, before_id: int | None = None) -> AuditPage:
        params = query.params() | ({"before_id": str(before_id)} if before_id else {})
        page = await self._call("GET", "/audit", params=params)
        return AuditPage(tuple(page.get("items", [])), page.get("next_before_id"))

    async def verify_audit(self) -> dict[str, Any]:
        return dict(await self._call("GET", "/audit/verify"))

    async def health(self) -> dict[str, Any]:
        return dict(await self.client.request("GET", "/health/detailed"))

    async def watchdog_status(self) -> dict[str, Any]:
        """Service heartbeats, analytics queues and per-model SLA figures (supervisors)."""
        return dict(await self._call("GET", "/watchdog/status"))

    async def incidents(self, state: str = "") -> list[dict[str, Any]]:
        params = {"limit": "200", **({"state": state} if state else {})}
        return list((await self._call("GET", "/incidents", params=params)).get("items", []))

    async def resolve_incident(self, incident_id: str, note: str = "") -> dict[str, Any]:
        return dict(await self._call("POST", f"/incidents/{incident_id}/resolve", {"note": note} if note else {}))

    async def camera_status(self, camera_id: str) -> dict[str, Any]:
        return dict(await self._call("GET", f"/cameras/{camera_id}/status"))

    # --- camera controls (supervisors) ----------------------------------------------------------------

    async def imaging(self, camera_id: str) -> Imaging:
        return Imaging.from_json(await self._call("GET", f"/cameras/{camera_id}/imaging"))

    async def set_imaging(self, camera_id: str, *, brightness: float | None = None,
                          ir_cut_filter: str | None = None) -> Imaging:
        """Change brightness and/or the IR cut filter (ON day, OFF night, AUTO); omitted ones stay."""
        body = {k: v for k, v in (("brightness", brightness), ("ir_cut_filter", ir_cut_filter)) if v is not None}
        return Imaging.from_json(await self._call("PATCH", f"/cameras/{camera_id}/imaging", body))

    async def focus(self, camera_id: str, speed: float) -> None:
        """Turn the focus continuously (-1 near .. 1 far); 0 stops it."""
        await self._call("POST", f"/cameras/{camera_id}/imaging/focus", {"speed": speed})

    async def event_topics(self, camera_id: str) -> list[EventTopicRow]:
        page = await self._call("GET", f"/cameras/{camera_id}/event-topics")
        return [EventTopicRow.from_json(t) for t in page.get("items", [])]
