"""Message texts built from a queued payload. The payload is rendered when the message is sent, not when it
is queued, so that a grouped message shows the final count."""

from __future__ import annotations

import html
import string
from pathlib import Path
from typing import Any

from vms_server.notifications.channels.base import MessageTemplate, Outgoing

PRIVATE_PREFIX = "_"  # payload keys kept for rendering (a snapshot's path on disk), never sent out


def public_payload(payload: dict[str, Any], count: int) -> dict[str, Any]:
    out = {k: v for k, v in payload.items() if not k.startswith(PRIVATE_PREFIX)}
    if payload.get("type") == "event":
        out["count"] = count
    return out


def _headline(payload: dict[str, Any], count: int) -> str:
    kind = payload.get("type")
    if kind == "test":
        return "Test message from the VMS"
    if kind == "camera.availability":
        return f"Camera {payload.get('camera_name') or payload.get('camera_id')} is {payload.get('state')}"
    what = str(payload.get("event_type", "event")).replace("_", " ")
    where = payload.get("camera_name") or payload.get("camera_id")
    prefix = f"[{payload.get('priority', '')}] " if payload.get("priority") else ""
    level = f" (escalation level {payload['escalation_level']})" if payload.get("escalation_level") else ""
    many = f"{count} x " if count > 1 else ""
    return f"{prefix}{many}{what} at {where}{level}"


def _lines(payload: dict[str, Any], count: int) -> list[tuple[str, str]]:
    fields = [("Event", payload.get("event_type")), ("Priority", payload.get("priority")),
              ("Camera", payload.get("camera_name") or payload.get("camera_id")), ("Site", payload.get("site_name")),
              ("Time", payload.get("local_time") or payload.get("timestamp")),
              ("Object", payload.get("object_class"))]
    if count > 1:
        fields.append(("Events in this message", str(count)))
    return [(k, str(v)) for k, v in fields if v]


def _fill(template: str, payload: dict[str, Any], count: int) -> str:
    values = {k: "" if v is None else str(v) for k, v in public_payload(payload, count).items()}
    values.setdefault("count", str(count))
    return string.Template(template).safe_substitute(values)


def render(message_id: str, recipient: str, payload: dict[str, Any], count: int, snapshot: bytes | None,
           templates: dict[str, MessageTemplate] | None = None) -> Outgoing:
    """The message for one recipient; a channel's template for the event type (or '*') replaces the wording."""
    chosen = (templates or {}).get(str(payload.get("event_type")), (templates or {}).get("*"))
    subject = _fill(chosen.subject, payload, count) if chosen and chosen.subject else _headline(payload, count)
    lines = _lines(payload, count)
    url = payload.get("url")
    if chosen and chosen.text:
        text = _fill(chosen.text, payload, count)
        table = f"<pre>{html.escape(text)}</pre>"
    else:
        text = "\n".join([subject, "", *(f"{k}: {v}" for k, v in lines),
                          *([f"\nOpen the event: {url}"] if url else [])])
        table = "<table>" + "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                                    for k, v in lines) + "</table>"
    link = f"<p><a href='{html.escape(str(url))}'>Open the event</a></p>" if url else ""
    body = f"<html><body><h2>{html.escape(subject)}</h2>{table}{link}</body></html>"
    return Outgoing(message_id=message_id, recipient=recipient, subject=subject, text=text, html=body,
                    payload=public_payload(payload, count), snapshot=snapshot)


def read_snapshot_blocking(payload: dict[str, Any], limit: int = 5_000_000) -> bytes | None:
    """The event's JPEG, if it is still on disk and of a sane size (runs in a thread)."""
    path = payload.get("_snapshot")
    if not path:
        return None
    file = Path(str(path))
    try:
        if file.stat().st_size > limit:
            return None
        return file.read_bytes()
    except OSError:
        return None
