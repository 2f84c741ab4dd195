"""Chunked, resumable clip upload with checksums, into a directory per tenant or the tenant's own bucket
on an S3-compatible server (moto's, on loopback)."""

from __future__ import annotations

import hashlib
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.conftest import make_cloud_settings, start_cloud

DATA = bytes(range(256)) * 300  # 76,800 bytes
CHUNK = 20_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("kind", ["directory", pytest.param("s3", marks=pytest.mark.slow)])
async def test_resumable_upload(kind: str, tmp_path: Path, cloud_db: tuple[str, str], cloud_settings: Any,
                                request: pytest.FixtureRequest) -> None:
    storage: dict[str, Any] = {"kind": kind}
    if kind == "s3":
        storage |= {"s3_endpoint": request.getfixturevalue("s3_endpoint"), "s3_access_key": "test",
                    "s3_secret_key": "test"}
    cloud = await start_cloud(make_cloud_settings(tmp_path / "c", cloud_db, storage=storage))
    try:
        tenant_id, admin = await cloud.tenant("acme")
        edge = await cloud.enrolled_edge(admin)
        announce = {"key": "clip:1", "size": len(DATA), "sha256": sha(DATA)}
        state = await cloud.ok("POST", "/api/v1/edge/clips", edge, json=announce)
        clip_id = state["clip_id"]
        url = f"/api/v1/edge/clips/{clip_id}/chunks"
        first = DATA[:CHUNK]
        state = await cloud.ok("PUT", f"{url}?offset=0", edge, data=first, headers={"X-Chunk-Sha256": sha(first)})
        assert state["received"] == CHUNK
        # A corrupted chunk is refused; a chunk at the wrong offset says where to resume.
        nxt = DATA[CHUNK:2 * CHUNK]
        bad = await cloud.client.put(f"{url}?offset={CHUNK}", data=b"X" + nxt[1:], headers={
            "Authorization": f"Bearer {edge}", "X-Chunk-Sha256": sha(nxt)})
        assert bad.status == 422
        wrong = await cloud.client.put(f"{url}?offset=0", data=nxt, headers={
            "Authorization": f"Bearer {edge}", "X-Chunk-Sha256": sha(nxt)})
        assert wrong.status == 409 and (await wrong.json())["error"]["details"]["received"] == CHUNK
        # The edge restarts: announcing again tells it where the upload stands.
        state = await cloud.ok("POST", "/api/v1/edge/clips", edge, json=announce)
        assert (state["clip_id"], state["received"], state["complete"]) == (clip_id, CHUNK, False)
        offset = state["received"]
        while offset < len(DATA):
            chunk = DATA[offset:offset + CHUNK]
            state = await cloud.ok("PUT", f"{url}?offset={offset}", edge, data=chunk,
                                   headers={"X-Chunk-Sha256": sha(chunk)})
            offset = state["received"]
        assert state["complete"]
        event_id = str(uuid.uuid4())
        now = "2026-01-01T00:00:00+00:00"
        await cloud.ok("POST", "/api/v1/edge/ingest", edge, json={"items": [
            {"key": "ev", "kind": "event", "seq": 1, "queued_at": now, "payload": {"id": event_id, "timestamp": now}},
            {"key": "clip:1", "kind": "clip", "seq": 2, "queued_at": now,
             "payload": {"event_id": event_id, "clip_id": clip_id}}]})
        whole = await cloud.client.get(f"/api/v1/events/{event_id}/clip", headers={"Authorization": f"Bearer {admin}"})
        assert whole.status == 200 and await whole.read() == DATA
        part = await cloud.client.get(f"/api/v1/events/{event_id}/clip?access_token={admin}",
                                      headers={"Range": "bytes=100-199"})
        assert part.status == 206 and await part.read() == DATA[100:200]
        if kind == "s3":
            import boto3

            s3 = boto3.client("s3", endpoint_url=storage["s3_endpoint"], region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test")
            body = s3.get_object(Bucket=f"vms-clips-{tenant_id}", Key=clip_id)["Body"].read()
            assert body == DATA
        else:
            assert (cloud.settings.data_dir / "clips" / tenant_id / f"{clip_id}.bin").read_bytes() == DATA
    finally:
        await cloud.client.close()


async def test_whole_file_checksum_restarts_upload(cloud_settings: Any) -> None:
    cloud = await start_cloud(cloud_settings)
    try:
        _, admin = await cloud.tenant("acme")
        edge = await cloud.enrolled_edge(admin)
        state = await cloud.ok("POST", "/api/v1/edge/clips", edge,
                               json={"key": "c", "size": len(DATA), "sha256": sha(b"something else")})
        state = await cloud.ok("PUT", f"/api/v1/edge/clips/{state['clip_id']}/chunks?offset=0", edge, data=DATA,
                               headers={"X-Chunk-Sha256": sha(DATA)})
        assert (state["received"], state["complete"]) == (0, False)
        conflict = await cloud.client.post("/api/v1/edge/clips", headers={"Authorization": f"Bearer {edge}"},
                                           json={"key": "c", "size": 5, "sha256": sha(b"12345")})
        assert conflict.status == 409
    finally:
        await cloud.client.close()
