"""An edge cannot plant a page on the cloud's origin through a clip (issue 20, finding 3)."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import update

from tests.cloud.conftest import Cloud
from vms_cloud_sync.backend.db import scoped
from vms_cloud_sync.backend.keys import SESSIONS
from vms_cloud_sync.backend.models import Clip

PAGE = b"<html><script>fetch('/api/v1/users').then(r => r.text()).then(alert)</script></html>"


async def _upload(cloud: Cloud, edge: str, content_type: str) -> tuple[str, str]:
    """Announce and send a clip for a new event; returns (clip id, event id)."""
    announce = {"key": f"clip:{uuid.uuid4()}", "size": len(PAGE), "sha256": hashlib.sha256(PAGE).hexdigest(),
                "content_type": content_type}
    clip_id = (await cloud.ok("POST", "/api/v1/edge/clips", edge, json=announce))["clip_id"]
    await cloud.ok("PUT", f"/api/v1/edge/clips/{clip_id}/chunks?offset=0", edge, data=PAGE,
                   headers={"X-Chunk-Sha256": hashlib.sha256(PAGE).hexdigest()})
    event_id, now = str(uuid.uuid4()), "2026-01-01T00:00:00+00:00"
    await cloud.ok("POST", "/api/v1/edge/ingest", edge, json={"items": [
        {"key": f"ev:{event_id}", "kind": "event", "seq": 1, "queued_at": now,
         "payload": {"id": event_id, "timestamp": now}},
        {"key": f"clip:{event_id}", "kind": "clip", "seq": 2, "queued_at": now,
         "payload": {"event_id": event_id, "clip_id": clip_id}}]})
    return clip_id, event_id


async def test_an_html_clip_is_refused_and_never_served_as_a_page(cloud: Cloud) -> None:
    tenant_id, admin = await cloud.tenant("acme")
    edge = await cloud.enrolled_edge(admin)
    # The attack as reported: announce the "clip" as text/html.
    for declared in ("text/html", "image/svg+xml", "text/html; charset=utf-8"):
        resp = await cloud.client.post("/api/v1/edge/clips", headers={"Authorization": f"Bearer {edge}"}, json={
            "key": f"evil:{declared}", "size": len(PAGE), "sha256": hashlib.sha256(PAGE).hexdigest(),
            "content_type": declared})
        assert resp.status == 422 and (await resp.json())["error"]["code"] == "clip_type", declared

    # A row stored as text/html before the check existed is served as a download nothing renders.
    clip_id, event_id = await _upload(cloud, edge, "video/mp4")
    async with scoped(cloud.client.app[SESSIONS], uuid.UUID(tenant_id)) as session:
        await session.execute(update(Clip).where(Clip.id == uuid.UUID(clip_id)).values(content_type="text/html"))
    resp = await cloud.client.get(f"/api/v1/events/{event_id}/clip?access_token={admin}")
    assert resp.status == 200 and await resp.read() == PAGE
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]


async def test_video_clips_play_inline_under_a_strict_policy(cloud: Cloud) -> None:
    _, admin = await cloud.tenant("acme")
    edge = await cloud.enrolled_edge(admin)
    _, event_id = await _upload(cloud, edge, "Video/MP4")
    resp = await cloud.client.get(f"/api/v1/events/{event_id}/clip?access_token={admin}")
    assert resp.status == 200 and resp.headers["Content-Type"] == "video/mp4"
    assert resp.headers["Content-Disposition"].startswith("inline") and "sandbox" in resp.headers[
        "Content-Security-Policy"]
    listed = await cloud.client.get("/api/v1/events", headers={"Authorization": f"Bearer {admin}"})
    assert "default-src 'none'" in listed.headers["Content-Security-Policy"]  # every API response
