"""Message texts built from a queued payload. The payload is rendered when the message is sent, not when it
is queued, so that a grouped message shows the final count. The wording is the recipient's language (`_lang` in
the payload): templates in wording/<language>.json, English where a language or a phrase is missing."""

from __future__ import annotations

import functools
import html
import json
import string
from pathlib import Path
from typing import Any

from vms_server.notifications.channels.base import MessageTemplate, Outgoing

PRIVATE_PREFIX = "_"  # payload keys kept for rendering (a snapshot's path on disk), never sent out
WORDING_DIR = Path(__file__).with_name("wording")
DEFAULT_LANGUAGE = "en"


def languages() -> list[str]:
    """The languages messages can be worded in (one wording file each)."""
    return sorted(p.stem for p in WORDING_DIR.glob("*.json"))


@functools.cache
def wording(language: str) -> dict[str, Any]:
    """The phrases of `language`, English filling the gaps; an unknown language is English."""
    base: dict[str, Any] = json.loads((WORDING_DIR / f"{DEFAULT_LANGUAGE}.json").read_text("utf-8"))
    if language == DEFAULT_LANGUAGE or language not in languages():
        return base
    own: dict[str, Any] = json.loads((WORDING_DIR / f"{language}.json").read_text("utf-8"))
    return {**base, **own, "labels": {**base["labels"], **own.get("labels", {})},
            "event_types": {**base["event_types"], **own.get("event_types", {})}}


def _say(phrase: str, **values: object) -> str:
    return string.Template(phrase).safe_substitute({k: "" if v is None else str(v) for k, v in values.items()})


def public_payload(payload: dict[str, Any], count: int) -> dict[str, Any]:
    out = {k: v for k, v in payload.items() if not k.startswith(PRIVATE_PREFIX)}
    if payload.get("type") == "event":
        out["count"] = count
    return out


def _what(payload: dict[str, Any], words: dict[str, Any]) -> str:
    event_type = str(payload.get("event_type", "event"))
    return str(words["event_types"].get(event_type) or event_type.replace("_", " "))


def _headline(payload: dict[str, Any], count: int, words: dict[str, Any]) -> str:
    kind = payload.get("type")
    if kind == "test":
        return str(words["test"])
    if kind == "camera.availability":
        return _say(words["availability"], camera=payload.get("camera_name") or payload.get("camera_id"),
                    state=payload.get("state"))
    where = payload.get("camera_name") or payload.get("camera_id")
    prefix = f"[{payload.get('priority', '')}] " if payload.get("priority") else ""
    level = _say(words["level"], level=payload["escalation_level"]) if payload.get("escalation_level") else ""
    many = _say(words["many"], count=count) if count > 1 else ""
    return _say(words["headline"], prefix=prefix, many=many, what=_what(payload, words), where=where, level=level)


def _lines(payload: dict[str, Any], count: int, words: dict[str, Any]) -> list[tuple[str, str]]:
    label = words["labels"]
    fields = [(label["event"], _what(payload, words) if payload.get("event_type") else None),
              (label["priority"], payload.get("priority")),
              (label["camera"], payload.get("camera_name") or payload.get("camera_id")),
              (label["site"], payload.get("site_name")),
              (label["time"], payload.get("local_time") or payload.get("timestamp")),
              (label["object"], payload.get("object_class"))]
    if count > 1:
        fields.append((label["count"], str(count)))
    return [(str(k), str(v)) for k, v in fields if v]


def _fill(template: str, payload: dict[str, Any], count: int) -> str:
    values = {k: "" if v is None else str(v) for k, v in public_payload(payload, count).items()}
    values.setdefault("count", str(count))
    return string.Template(template).safe_substitute(values)


def render(message_id: str, recipient: str, payload: dict[str, Any], count: int, snapshot: bytes | None,
           templates: dict[str, MessageTemplate] | None = None) -> Outgoing:
    """The message for one recipient in the payload's language; a channel's template for the event type (or
    '*') replaces the wording, a template keyed '<language>:<event type>' (or '<language>:*') winning over both."""
    language = str(payload.get("_lang") or DEFAULT_LANGUAGE)
    words = wording(language)
    event_type = str(payload.get("event_type"))
    table_of = templates or {}
    chosen = next((table_of[k] for k in (f"{language}:{event_type}", f"{language}:*", event_type, "*")
                   if k in table_of), None)
    subject = _fill(chosen.subject, payload, count) if chosen and chosen.subject \
        else _headline(payload, count, words)
    lines = _lines(payload, count, words)
    url = payload.get("url")
    if chosen and chosen.text:
        text = _fill(chosen.text, payload, count)
        table = f"<pre>{html.escape(text)}</pre>"
    else:
        text = "\n".join([subject, "", *(f"{k}: {v}" for k, v in lines),
                          *([f"\n{words['open']}: {url}"] if url else [])])
        table = "<table>" + "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                                    for k, v in lines) + "</table>"
    link = f"<p><a href='{html.escape(str(url))}'>{html.escape(str(words['open']))}</a></p>" if url else ""
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
