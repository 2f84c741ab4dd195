"""ONVIF events: the topics a camera raises, GetEventProperties, and pull-point subscriptions.

Every topic comes from the scene's ground truth at the camera's loop phase, so a test can compare
what the camera said with what the picture showed:
- motion while anything moves; tampering while the picture is covered, defocused or redirected;
- zone A is a door: its contact (digital input ``input0``) is closed while a person stands in it,
  the door ``door0`` is Open meanwhile, and each opening grants access once at ``ap0`` to the first
  person in. Anyone else who enters before the door closes again is a tailgater.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape, quoteattr

from vms_camsim.camera import CameraRuntime
from vms_camsim.onvif.device_media import OnvifContext
from vms_camsim.onvif.soap import SoapFault, parse_duration, text, utc_now_iso

_SAMPLE_S = 0.1
_MAX_PULL_WAIT_S = 10.0
_DIALECT = "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"


@dataclass(frozen=True)
class Topic:
    """One topic with the names and types of its Source and Data items."""

    path: str
    source: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]
    is_property: bool = True


MOTION = Topic("tns1:VideoSource/MotionAlarm", (("Source", "tt:ReferenceToken"),), (("State", "xs:boolean"),))
TAMPER = Topic("tns1:VideoSource/GlobalSceneChange/ImagingService", (("Source", "tt:ReferenceToken"),),
               (("State", "xs:boolean"),))
DIGITAL_INPUT = Topic("tns1:Device/Trigger/DigitalInput", (("InputToken", "tt:ReferenceToken"),),
                      (("LogicalState", "xs:boolean"),))
DOOR = Topic("tns1:Door/State/DoorPhysicalState", (("DoorToken", "tt:ReferenceToken"),),
             (("State", "tt:DoorPhysicalState"),))
ACCESS_GRANTED = Topic("tns1:AccessControl/AccessGranted/Credential", (("AccessPointToken", "tt:ReferenceToken"),),
                       (("CredentialToken", "tt:ReferenceToken"), ("CredentialHolderName", "xs:string")),
                       is_property=False)
TOPICS = (MOTION, TAMPER, DIGITAL_INPUT, DOOR, ACCESS_GRANTED)


@dataclass
class Notification:
    """One ONVIF event message; ``operation`` is None for a plain event (not a property)."""

    topic: Topic
    utc: str
    operation: str | None
    source: tuple[str, ...]
    data: tuple[str, ...]


def _states(camera: CameraRuntime, phase: float) -> dict[Topic, tuple[str, ...]]:
    scene = camera.scene
    people = scene.people_in_zone(phase)
    return {MOTION: (str(scene.motion_at(phase)).lower(),),
            TAMPER: (str(scene.tamper_at(phase) is not None).lower(),),
            DIGITAL_INPUT: (str(bool(people)).lower(),),
            DOOR: ("Open" if people else "Closed",)}


_SOURCES = {MOTION: ("vsrc0",), TAMPER: ("vsrc0",), DIGITAL_INPUT: ("input0",), DOOR: ("door0",),
            ACCESS_GRANTED: ("ap0",)}


@dataclass
class Subscription:
    """A pull point: the property values it last reported and when it expires."""

    camera: CameraRuntime
    expires: float
    sid: str = field(default_factory=lambda: secrets.token_hex(8))
    checked: float = 0.0
    last: dict[Topic, tuple[str, ...]] = field(default_factory=dict)

    def synchronise(self) -> None:
        """SetSynchronizationPoint: the next pull reports every property again as Initialized."""
        self.last.clear()

    def collect(self, now: float) -> list[Notification]:
        """Messages for state changes since the last call (the first call reports the current state)."""
        out: list[Notification] = []
        start = self.checked or now
        steps = max(1, int((now - start) / _SAMPLE_S))
        for i in range(1, steps + 1):
            phase = self.camera.phase(start + (now - start) * i / steps)
            door_before = self.last.get(DOOR)
            for topic, value in _states(self.camera, phase).items():
                before = self.last.get(topic)
                if value != before:
                    op = "Initialized" if before is None else "Changed"
                    out.append(Notification(topic, utc_now_iso(), op, _SOURCES[topic], value))
                    self.last[topic] = value
            if door_before == ("Closed",) and self.last[DOOR] == ("Open",):  # an opening seen, not a state found
                first = self.camera.scene.people_in_zone(phase)[0]
                out.append(Notification(ACCESS_GRANTED, utc_now_iso(), None, _SOURCES[ACCESS_GRANTED],
                                        (f"cred-{first}", first)))
        self.checked = now
        return out


def _items(tag: str, names: tuple[tuple[str, str], ...], values: tuple[str, ...]) -> str:
    items = "".join(f"<tt:SimpleItem Name={quoteattr(n)} Value={quoteattr(v)}/>"
                    for (n, _), v in zip(names, values, strict=True))
    return f"<tt:{tag}>{items}</tt:{tag}>"


def _notification_xml(n: Notification) -> str:
    operation = f' PropertyOperation="{n.operation}"' if n.operation else ""
    return (f'<wsnt:NotificationMessage><wsnt:Topic Dialect="{_DIALECT}">{n.topic.path}</wsnt:Topic>'
            f'<wsnt:Message><tt:Message UtcTime="{n.utc}"{operation}>'
            f"{_items('Source', n.topic.source, n.source)}{_items('Data', n.topic.data, n.data)}"
            "</tt:Message></wsnt:Message></wsnt:NotificationMessage>")


def _description(topic: Topic) -> str:
    def items(tag: str, names: tuple[tuple[str, str], ...]) -> str:
        inner = "".join(f'<tt:SimpleItemDescription Name="{n}" Type="{t}"/>' for n, t in names)
        return f"<tt:{tag}>{inner}</tt:{tag}>"

    return (f'<tt:MessageDescription IsProperty="{str(topic.is_property).lower()}">'
            f"{items('Source', topic.source)}{items('Data', topic.data)}</tt:MessageDescription>")


def topic_set_xml() -> str:
    """The wstop:TopicSet tree of every topic in TOPICS (levels in the tns1 namespace)."""
    tree: dict[str, object] = {}
    for topic in TOPICS:
        node = tree
        for level in topic.path.removeprefix("tns1:").split("/"):
            node = node.setdefault(level, {})  # type: ignore[assignment]
        node["."] = topic

    def render(node: dict[str, object]) -> str:
        out = ""
        for name, child_node in node.items():
            if name == "." or not isinstance(child_node, dict):
                continue
            leaf = child_node.get(".")
            mark = ' wstop:topic="true"' if isinstance(leaf, Topic) else ""
            body = _description(leaf) if isinstance(leaf, Topic) else ""
            out += f"<tns1:{name}{mark}>{body}{render(child_node)}</tns1:{name}>"
        return out

    return ('<wstop:TopicSet xmlns:wstop="http://docs.oasis-open.org/wsn/t-1" '
            f'xmlns:xs="http://www.w3.org/2001/XMLSchema">{render(tree)}</wstop:TopicSet>')


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        raise SoapFault("Sender", ("ter:InvalidArgVal",), f"not a number: {value!r}") from None


class EventService:
    """Pull-point subscriptions of one camera."""

    def __init__(self, camera: CameraRuntime) -> None:
        self.camera = camera
        self.subscriptions: dict[str, Subscription] = {}

    def _expire(self) -> None:
        now = time.time()
        for sid in [s for s, sub in self.subscriptions.items() if sub.expires < now]:
            del self.subscriptions[sid]

    def create(self, ctx: OnvifContext, op: Element) -> str:
        """CreatePullPointSubscription: a new pull point at /onvif/subscription/<id>."""
        self._expire()
        if len(self.subscriptions) >= 64:
            raise SoapFault("Receiver", ("ter:Action", "ter:MaxPullPoints"), "too many subscriptions", 500)
        ttl = min(parse_duration(text(op, "InitialTerminationTime"), 60.0), 3600.0)
        sub = Subscription(self.camera, time.time() + max(ttl, 10.0))
        self.subscriptions[sub.sid] = sub
        address = f"{ctx.base_url}/onvif/subscription/{sub.sid}"
        return ("<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>"
                f"<wsa:Address>{escape(address)}</wsa:Address></tev:SubscriptionReference>"
                f"<wsnt:CurrentTime>{_iso(time.time())}</wsnt:CurrentTime>"
                f"<wsnt:TerminationTime>{_iso(sub.expires)}</wsnt:TerminationTime>"
                "</tev:CreatePullPointSubscriptionResponse>")

    def get(self, sid: str) -> Subscription:
        """A live subscription. Raises the fault a pull on an unknown or expired one earns."""
        self._expire()
        sub = self.subscriptions.get(sid)
        if sub is None:
            raise SoapFault("Sender", ("ter:InvalidArgVal", "ter:ResourceUnknown"), "no such subscription")
        return sub

    async def pull(self, sub: Subscription, op: Element) -> str:
        """PullMessages: long-poll up to Timeout for scene state changes."""
        wait = min(parse_duration(text(op, "Timeout"), 5.0), _MAX_PULL_WAIT_S)
        limit = _int(text(op, "MessageLimit"), 100)
        deadline = time.time() + wait
        messages = sub.collect(time.time())
        while not messages and time.time() < deadline:
            await asyncio.sleep(_SAMPLE_S)
            messages = sub.collect(time.time())
        body = "".join(_notification_xml(n) for n in messages[: max(1, limit)])
        return (f"<tev:PullMessagesResponse><tev:CurrentTime>{_iso(time.time())}</tev:CurrentTime>"
                f"<tev:TerminationTime>{_iso(sub.expires)}</tev:TerminationTime>{body}"
                "</tev:PullMessagesResponse>")

    def renew(self, sub: Subscription, op: Element) -> str:
        """Renew: extend the termination time."""
        sub.expires = time.time() + max(10.0, min(parse_duration(text(op, "TerminationTime"), 60.0), 3600.0))
        return (f"<wsnt:RenewResponse><wsnt:TerminationTime>{_iso(sub.expires)}</wsnt:TerminationTime>"
                f"<wsnt:CurrentTime>{_iso(time.time())}</wsnt:CurrentTime></wsnt:RenewResponse>")

    def unsubscribe(self, sub: Subscription) -> str:
        """Unsubscribe: forget the pull point."""
        self.subscriptions.pop(sub.sid, None)
        return "<wsnt:UnsubscribeResponse/>"

    def capabilities(self, ctx: OnvifContext, op: Element) -> str:
        """GetServiceCapabilities: pull points only (no WS-BaseNotification push), up to 64 of them."""
        return ('<tev:GetServiceCapabilitiesResponse><tev:Capabilities WSSubscriptionPolicySupport="false" '
                'WSPausableSubscriptionManagerInterfaceSupport="false" MaxNotificationProducers="0" '
                'MaxPullPoints="64" PersistentNotificationStorage="false"/></tev:GetServiceCapabilitiesResponse>')

    def properties(self, ctx: OnvifContext, op: Element) -> str:
        """GetEventProperties: every topic this simulator raises, with its message description."""
        return ("<tev:GetEventPropertiesResponse>"
                "<tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml"
                "</tev:TopicNamespaceLocation><wsnt:FixedTopicSet>true</wsnt:FixedTopicSet>"
                f"{topic_set_xml()}<wsnt:TopicExpressionDialect>{_DIALECT}</wsnt:TopicExpressionDialect>"
                "<tev:MessageContentFilterDialect>http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter"
                "</tev:MessageContentFilterDialect>"
                "<tev:MessageContentSchemaLocation>http://www.onvif.org/onvif/ver10/schema/onvif.xsd"
                "</tev:MessageContentSchemaLocation></tev:GetEventPropertiesResponse>")
