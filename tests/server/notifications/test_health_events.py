"""Camera health reaches the notification rules: a `stream_degraded` warning (a stream below a model's needs) is
routed like a scene event, in a rule's own wording language, while scene-event subscribers (event recording,
clips) are still not told of it."""

from __future__ import annotations

from tests.server.helpers import ApiClient
from tests.server.notifications.conftest import add_camera, messages, rule, wait_for, webhook_channel
from tests.server.notifications.servers import Receiver
from vms_server.analytics.types import CameraRef
from vms_server.events.keys import EVENTS
from vms_server.events.sink import CreatedEvent


async def test_stream_degraded_goes_through_the_rules(api: ApiClient, receiver: Receiver) -> None:
    app = api.client.app
    await rule(api, [await webhook_channel(api, receiver)], event_types=["stream_degraded"])
    camera = await add_camera(api, "Yard")
    scene: list[CreatedEvent] = []
    app[EVENTS].subscribe(scene.append)
    ref = CameraRef(camera, api.seeded.customer_id, api.seeded.site_id)
    event_id = await app[EVENTS].warning(ref, "person", ["fps 4 < 10"], 1_700_000_000.0)
    await wait_for(lambda: len(receiver.received) == 1)
    body = receiver.received[0]["body"]
    assert body["event_type"] == "stream_degraded" and body["event_id"] == str(event_id)
    assert body["camera_name"] == "Yard" and body["priority"] == "HIGH"
    assert [m["status"] for m in await messages(api, event_id=event_id)] == ["SENT"]
    assert scene == []  # recording and clips only follow scene events
