"""The event topics a camera can raise, read from its ONVIF event service (GetEventProperties).

The camera's page lists them so an administrator can see what the camera will report (motion,
tampering, a door contact, access granted) before choosing it as a motion source or building rules
on it. The topic set is an XML tree whose leaves carry wstop:topic="true".
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from pydantic import BaseModel, Field
from zeep.exceptions import Fault, TransportError

from vms_common.errors import NotReady
from vms_server.ptz.device import PtzFailed, _address

logger = logging.getLogger(__name__)

_TOPIC_ATTR = "{http://docs.oasis-open.org/wsn/t-1}topic"
_TT = "{http://www.onvif.org/ver10/schema}"
_MAX_TOPICS = 500


class EventTopic(BaseModel):
    topic: str = Field(description="Concrete topic path, e.g. tns1:VideoSource/MotionAlarm")
    is_property: bool = Field(description="A state the camera reports on change (else a one-off event)")
    data: list[str] = Field(description="Names of the message's data items")


class EventTopics(BaseModel):
    items: list[EventTopic]


def _walk(element: Any, path: list[str], out: list[EventTopic]) -> None:
    for node in element:
        tag = getattr(node, "tag", None)
        if not isinstance(tag, str) or len(out) >= _MAX_TOPICS:
            continue
        name = tag.rsplit("}", 1)[-1]
        if name == "MessageDescription":
            continue
        here = [*path, name]
        if str(node.get(_TOPIC_ATTR, "")).lower() == "true":
            description = node.find(f"{_TT}MessageDescription")
            data = [] if description is None else [
                str(item.get("Name")) for item in description.iter(f"{_TT}SimpleItemDescription")
                if item.getparent() is not None and item.getparent().tag == f"{_TT}Data"]
            is_property = description is not None and description.get("IsProperty", "false") == "true"
            out.append(EventTopic(topic="tns1:" + "/".join(here), is_property=is_property, data=data))
        _walk(node, here, out)


def topics_from(properties: Any) -> list[EventTopic]:
    """The topics in a GetEventProperties answer (onvif-zeep-async object)."""
    out: list[EventTopic] = []
    topic_set = getattr(properties, "TopicSet", None)
    for root in getattr(topic_set, "_value_1", None) or []:
        _walk([root], [], out)
    return out


async def read_event_topics(onvif_url: str, username: str | None, password: str | None) -> list[EventTopic]:
    """Ask the camera. Raises NotReady when unreachable, PtzFailed when it refuses."""
    from onvif import ONVIFCamera

    host, port = _address(onvif_url)
    camera = ONVIFCamera(host, port, username, password)
    try:
        await camera.update_xaddrs()
        events = await camera.create_events_service()
        return topics_from(await events.GetEventProperties())
    except Fault as exc:
        raise PtzFailed(f"the camera refused GetEventProperties: {exc.message or exc}") from None
    except (aiohttp.ClientError, TransportError, OSError, TimeoutError) as exc:
        raise NotReady(f"the camera's ONVIF service at {host}:{port} is not reachable ({type(exc).__name__})") \
            from None
    finally:
        try:
            await camera.close()
        except Exception:  # closing a dead connection must not mask the original error
            logger.debug("closing ONVIF client failed", exc_info=True)
