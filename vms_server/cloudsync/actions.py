"""The way down from HQ: actions that HQ users took on this site's events and incidents in the cloud portal.

The pusher fetches them (`GET /edge/actions`) every `actions_s`, and each is applied through the server's own
services, exactly as if an operator had done it here: the life cycle is checked, the audit log names the HQ
user (`hq:<user>`), the change goes up again through the outbox and desktops hear of it over the WebSocket.
Each action is then confirmed (`POST /edge/actions/done`) with "applied" or why it was refused, so a refused
action is never retried. The `sync_hq_actions` row is written in the same transaction as the change, so an
action fetched twice (a confirmation lost on the way, two nodes polling) is applied once."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vms_cloud_sync.protocol.sync import ActionResult, ActionsDone, EdgeAction
from vms_common.auth.principal import Principal
from vms_common.auth.roles import Role
from vms_common.db.base import utcnow
from vms_common.errors import Conflict, Forbidden, InvalidInput, NotFound
from vms_server.audit.service import Actor, record
from vms_server.cloudsync import outbox
from vms_server.cloudsync.client import CloudClient
from vms_server.cloudsync.models import AppliedAction
from vms_server.events import service as events
from vms_server.events.models import Event
from vms_server.events.schemas import EventStatus, StatusIn
from vms_server.watchdog.incidents import as_dict
from vms_server.watchdog.models import Incident

logger = logging.getLogger(__name__)

APPLIED = "applied"
FETCH_LIMIT = 100
MAX_FAILURES = 3
KEEP_CONFIRMED = dt.timedelta(days=30)
_HQ_NAMESPACE = uuid.UUID("5b0c8a52-3f6e-4d8e-9a51-6f1f0d6b7c11")
_STATUS = {"acknowledge": EventStatus.ACKNOWLEDGED, "resolve": EventStatus.RESOLVED,
           "false_positive": EventStatus.FALSE_POSITIVE}

Publish = Callable[[str, dict[str, Any], uuid.UUID | None], object]
"""Announces a change on the WebSocket hub: (kind, payload, site id)."""


class Refused(Exception):
    """The site will not apply this action; the message goes back to HQ as the action's result."""


def hq_principal(by_user: str, customer_id: uuid.UUID) -> Principal:
    """The HQ user as a supervisor of every site of the event's customer: HQ may acknowledge, resolve and mark
    false positives (the cloud checked the user's role). A stable id, so their notes group by author."""
    user_id = uuid.uuid5(_HQ_NAMESPACE, by_user)
    return Principal(user_id=user_id, username=by_user, role=Role.SUPERVISOR, customer_id=customer_id,
                     family_id=user_id, site_ids=None)


async def _on_event(session: AsyncSession, action: EdgeAction) -> Event:
    try:
        event_id = uuid.UUID(action.target_id)
    except ValueError:
        raise Refused("unknown event") from None
    ev = await session.get(Event, event_id)
    if ev is None:
        raise Refused("unknown event")
    who, actor = hq_principal(action.by_user, ev.customer_id), Actor(None, action.by_user)
    text = action.text.strip()
    if action.action in _STATUS:
        return await events.change_status(session, event_id, StatusIn(status=_STATUS[action.action],
                                                                      note=text[:4000] or None), who, actor)
    if not text:
        raise Refused(f"an empty {action.action}")
    if action.action == "note":
        return await events.add_note(session, event_id, text[:4000], who, actor)
    return await events.set_tags(session, event_id, [*(ev.tags or []), text[:64]], who, actor)


async def _on_incident(session: AsyncSession, action: EdgeAction) -> Incident:
    try:
        incident = await session.get(Incident, uuid.UUID(action.target_id))
    except ValueError:
        incident = None
    if incident is None:
        raise Refused("unknown incident")
    if action.action != "acknowledge":
        raise Refused(f"an incident cannot be given a {action.action}")
    if incident.state != "OPEN":
        raise Refused(f"the incident is already {incident.state.lower()}")
    now = utcnow()
    text = action.text.strip() or f"acknowledged by {action.by_user}"
    incident.updates = [*incident.updates, {"at": now.isoformat(), "action": "acknowledged", "text": text[:500],
                                            "by": action.by_user}]
    incident.updated_at = now
    await session.flush()
    await record(session, Actor(None, action.by_user), "incident.acknowledged", target_type="incident",
                 target_id=incident.id, new={"text": text})
    await outbox.enqueue(session, "incident", f"incident:{incident.id}:{len(incident.updates)}",
                         as_dict(incident), incident.camera_id)
    return incident


class ActionApplier:
    """Applies HQ's actions once each and confirms them."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], publish: Publish) -> None:
        self._sessions, self._publish = sessions, publish
        self.applied = 0
        self.refused = 0
        self._failures: dict[uuid.UUID, int] = {}

    async def apply(self, action: EdgeAction) -> str:
        """Apply one action, or return the answer it got the first time; returns its result."""
        try:
            return await self._apply_once(action)
        except IntegrityError:  # another node applied it at the same moment: its row is the answer
            async with self._sessions() as session:
                row = await session.get(AppliedAction, action.id)
            return row.result if row is not None else "refused: could not record the action"

    async def _apply_once(self, action: EdgeAction) -> str:
        changed: Event | Incident | None = None
        try:
            async with self._sessions.begin() as session:
                row = await session.get(AppliedAction, action.id)
                if row is not None:
                    return row.result
                changed = await (_on_event if action.target == "event" else _on_incident)(session, action)
                session.add(_row(action, APPLIED))
        except (Refused, Conflict, NotFound, Forbidden, InvalidInput) as exc:
            result = f"refused: {exc}"[:200]
            async with self._sessions.begin() as session:
                if (row := await session.get(AppliedAction, action.id)) is not None:
                    return row.result
                session.add(_row(action, result))
            self.refused += 1
            logger.warning("HQ action refused", extra={"action_id": str(action.id), "action": action.action,
                                                       "target_id": action.target_id, "by": action.by_user,
                                                       "reason": result})
            return result
        self.applied += 1
        logger.info("HQ action applied", extra={"action_id": str(action.id), "action": action.action,
                                                "target_id": action.target_id, "by": action.by_user})
        if isinstance(changed, Event):
            self._publish("event.updated", events.payload(changed), changed.site_id)
        elif changed is not None:
            self._publish("incident.updated", as_dict(changed), changed.site_id)
        return APPLIED

    async def sync(self, client: CloudClient) -> int:
        """Fetch, apply and confirm what HQ has for this site; returns how many actions were confirmed."""
        pending = (await client.actions(FETCH_LIMIT)).items
        results = [ActionResult(id=a.id, result=result) for a in pending
                   if (result := await self._apply_or_fail(a)) is not None]
        if results:
            await client.actions_done(ActionsDone(items=results))
        async with self._sessions.begin() as session:
            if results:
                await session.execute(update(AppliedAction).where(AppliedAction.id.in_([r.id for r in results]))
                                      .values(confirmed_at=utcnow()))
            # The cloud never offers a confirmed action again; the row only guards against a lost confirmation.
            await session.execute(delete(AppliedAction).where(AppliedAction.confirmed_at < utcnow() - KEEP_CONFIRMED))
        return len(results)

    async def _apply_or_fail(self, action: EdgeAction) -> str | None:
        """The action's result; None to try it again next round after an unexpected failure (a database
        hiccup), but only MAX_FAILURES times: then it is refused, so one bad action never blocks the others."""
        try:
            result = await self.apply(action)
        except Exception as exc:
            failures = self._failures.get(action.id, 0) + 1
            self._failures[action.id] = failures
            logger.exception("could not apply an HQ action", extra={"action_id": str(action.id),
                                                                    "failures": failures})
            if failures < MAX_FAILURES:
                return None
            result = f"refused: the site failed to apply it ({type(exc).__name__})"
            try:
                async with self._sessions.begin() as session:
                    if await session.get(AppliedAction, action.id) is None:
                        session.add(_row(action, result))
            except Exception:  # the database itself is failing: the cloud's confirmation is what counts
                logger.exception("could not record a refused HQ action", extra={"action_id": str(action.id)})
        self._failures.pop(action.id, None)
        return result


def _row(action: EdgeAction, result: str) -> AppliedAction:
    return AppliedAction(id=action.id, target=action.target, target_id=action.target_id[:100],
                         action=action.action, by_user=action.by_user[:200], result=result, applied_at=utcnow())
