"""The OpenAPI document is valid OpenAPI 3.1 and lists every route the server answers."""

from __future__ import annotations

from openapi_spec_validator import validate

from tests.server.helpers import ApiClient
from vms_common.api import keys

UNDOCUMENTED = ("/docs", "/api/v1/openapi.json")


async def test_document_is_valid_and_complete(api: ApiClient) -> None:
    doc = await api.ok("GET", "/api/v1/openapi.json", None)
    validate(doc)
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    for spec in api.client.app[keys.ROUTER].specs:
        assert (spec.method, spec.path) in documented
    for resource in api.client.app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter") or info.get("prefix", "")
        if path.startswith(UNDOCUMENTED):
            continue
        methods = {r.method for r in resource if r.method not in ("HEAD", "OPTIONS")}
        for method in methods:
            assert (method, path) in documented, f"{method} {path} is served but not documented"
    # Raw media and the live WebSocket are declared like every other route, with their media types.
    media = {"/api/v1/ws": "application/json", "/api/v1/cameras/{camera_id}/live/ws": "application/octet-stream",
             "/api/v1/cameras/{camera_id}/live/hls/index.m3u8": "application/vnd.apple.mpegurl",
             "/api/v1/cameras/{camera_id}/live/hls/{name}": "video/mp4",
             "/api/v1/cameras/{camera_id}/playback.mp4": "video/mp4"}
    for path, media_type in media.items():
        assert media_type in doc["paths"][path]["get"]["responses"]["200"]["content"], path
    login = doc["paths"]["/api/v1/auth/login"]["post"]
    assert "security" not in login and "429" in login["responses"]
    cameras = doc["paths"]["/api/v1/cameras"]["post"]
    assert cameras["security"] == [{"bearer": []}] and "403" in cameras["responses"]


async def test_swagger_ui_is_served_locally(api: ApiClient) -> None:
    page = await api.call("GET", "/docs", None)
    html = await page.text()
    assert page.status == 200 and "/docs/static/swagger-ui-bundle.js" in html and "http" not in html.lower()
    bundle = await api.call("GET", "/docs/static/swagger-ui-bundle.js", None)
    assert bundle.status == 200 and len(await bundle.read()) > 100_000
