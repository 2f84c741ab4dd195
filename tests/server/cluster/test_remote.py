"""Presigned segment links between cluster nodes: valid for one segment and a minute, refused when tampered
with, expired or made with another cluster's key; and the segment route of a server that is not a cluster node
answers 404 whatever the link (it takes no user token, so it must give nothing away)."""

from __future__ import annotations

import time
import uuid

from tests.server.helpers import ApiClient
from vms_server.cluster.remote import LINK_TTL_S, SegmentLinks


def test_a_link_opens_its_segment_for_a_minute_only() -> None:
    links = SegmentLinks(b"m" * 32)
    segment = uuid.uuid4()
    q = links.query(segment)
    assert links.valid(segment, q["expires"], q["sig"])
    assert not links.valid(uuid.uuid4(), q["expires"], q["sig"]), "another segment"
    assert not links.valid(segment, str(int(q["expires"]) + 1), q["sig"]), "a longer life"
    assert not links.valid(segment, q["expires"], q["sig"][:-1] + ("0" if q["sig"][-1] != "0" else "1"))
    assert not links.valid(segment, "soon", q["sig"])
    assert not SegmentLinks(b"x" * 32).valid(segment, q["expires"], q["sig"]), "another cluster's key"
    later = time.time() + LINK_TTL_S + 1
    assert not links.valid(segment, q["expires"], q["sig"], now=later), "expired"
    far = links.query(segment, now=time.time() + 3600)  # a link dated far ahead is refused too
    assert not links.valid(segment, far["expires"], far["sig"])


async def test_the_route_on_a_single_server_is_404(api: ApiClient) -> None:
    segment = uuid.uuid4()
    q = SegmentLinks(b"m" * 32).query(segment)
    resp = await api.call("GET", f"/api/v1/cluster/segments/{segment}/file", None, params=q)
    assert resp.status == 404
    resp = await api.call("GET", f"/api/v1/cluster/segments/{segment}/file", None, params={"expires": "1"})
    assert resp.status == 422
