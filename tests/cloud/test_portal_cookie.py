"""The portal's login cookie is Secure when the browser is on TLS, also behind a TLS-terminating proxy listed
in `server.trusted_proxies` (its X-Forwarded-Proto believed); the same header from anyone else changes
nothing (issue 25, security)."""

from __future__ import annotations

from pathlib import Path

from tests.cloud.conftest import HQ_PASSWORD, Cloud, make_cloud_settings, start_cloud


async def _cookie(cloud: Cloud, proto: str | None) -> str:
    headers = {"X-Forwarded-Proto": proto} if proto else {}
    form = {"organisation": "acme", "username": "acme-admin", "password": HQ_PASSWORD}
    resp = await cloud.client.post("/portal/login", allow_redirects=False, headers=headers, data=form)
    assert resp.status == 302, await resp.text()
    return resp.headers.getone("Set-Cookie")


async def test_secure_cookie_only_through_a_trusted_tls_proxy(tmp_path: Path, cloud_db: tuple[str, str],
                                                              cloud_settings: object) -> None:
    trusting = await start_cloud(make_cloud_settings(tmp_path / "t", cloud_db,
                                                     server={"trusted_proxies": ["127.0.0.0/8"]}))
    distrusting = await start_cloud(make_cloud_settings(tmp_path / "d", cloud_db,
                                                        server={"trusted_proxies": ["10.9.0.0/16"]}))
    try:
        await trusting.tenant("acme")
        via_proxy = await _cookie(trusting, "https")
        assert "; Secure" in via_proxy and "HttpOnly" in via_proxy and "SameSite=Strict" in via_proxy
        assert "; Secure" not in await _cookie(trusting, None)
        assert "; Secure" not in await _cookie(trusting, "http")
        assert "; Secure" not in await _cookie(distrusting, "https")  # the peer is not a listed proxy
    finally:
        await trusting.client.close()
        await distrusting.client.close()
