"""Incidents: stored, deduplicated while open, pushed on the hub (`incident.created` / `incident.updated`)
and queued for the cloud in the same transaction as the row.

An open incident with the same fingerprint (type, model, camera, service) is updated rather than duplicated,
so a breach that lasts an hour is one incident with its history, not 720 rows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from vms_common.db.base import utcnow
from vms_server.api.ws import Hub
from vms_server.cameras.models import Camera
from vms_server.watchdog.models import Incident

logger = logging.getLogger(__name__)
MAX_UPDATES = 200  # an incident keeps its latest updates; older ones are summarised by the count


class IncidentType(enum.StrEnum):
    LATENCY_BREACH = "LATENCY_BREACH"
    THROUGHPUT_DROP = "THROUGHPUT_DROP"
    SERVICE_FAILURE = "SERVICE_FAILURE"


class Severity(enum.StrEnum):
    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


def severity_for(priority: str) -> Severity:
    """A model's breach is as serious as the model: a fire detector's delay matters more than motion's."""
    return {"CRITICAL": Severity.CRITICAL, "HIGH": Severity.HIGH, "MEDIUM": Severity.MEDIUM}.get(
        priority.upper(), Severity.LOW)


@dataclass(frozen=True)
class Draft:
    incident_type: IncidentType
    severity: Severity
    actual: float
    threshold: float
    unit: str
    message: str
    model: str | None = None
    camera_id: uuid.UUID | None = None
    service: str | None = None

    @property
    def fingerprint(self) -> str:
        """What makes two reports the same incident. A model's SLA is judged per model, so the camera (only
        the one with the slowest job) is not part of it; a camera's own failure is."""
        camera = "" if self.model else str(self.camera_id or "")
        return "|".join([self.incident_type.value, self.model or "", camera, self.service or ""])


def as_dict(incident: Incident) -> dict[str, Any]:
    """The API and hub body (field names of REQUIREMENTS section 9, snake_case)."""
    return {
        "id": str(incident.id), "timestamp": incident.opened_at.isoformat(),
        "updated_at": incident.updated_at.isoformat(),
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "customer_id": str(incident.customer_id) if incident.customer_id else None,
        "camera_id": str(incident.camera_id) if incident.camera_id else None,
        "site_id": str(incident.site_id) if incident.site_id else None,
        "ai_model": incident.model, "service": incident.service, "incident_type": incident.incident_type,
        "actual_value": incident.actual_value, "threshold_value": incident.threshold_value, "unit": incident.unit,
        "severity": incident.severity, "state": incident.state, "message": incident.message,
        "updates": incident.updates,
    }


class IncidentService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], hub: Hub | None) -> None:
        self.sessions = sessions
        self.hub = hub
        self.raised = 0

    async def report(self, draft: Draft) -> Incident:
        """Open an incident, or add the new measurement to the open one with the same fingerprint. When
        another server opens the same incident at the same moment, the database's unique index on open
        fingerprints refuses the second one, which then becomes a measurement of the first."""
        incident, created = await _retrying(lambda: self._report_once(draft))
        self.raised += int(created)
        self._push("incident.created" if created else "incident.updated", incident)
        log = logger.warning if created else logger.info
        log("incident %s %s: %s", incident.incident_type, "opened" if created else "updated", draft.message,
            extra={"camera_id": str(draft.camera_id) if draft.camera_id else None})
        return incident

    async def _report_once(self, draft: Draft) -> tuple[Incident, bool]:
        async with self.sessions.begin() as session:
            incident = await _open(session, draft.fingerprint)
            created = incident is None
            if incident is None:
                incident = await self._new(session, draft)
                session.add(incident)
            else:
                _append(incident, "measurement", draft.message, actual=draft.actual)
                incident.actual_value = draft.actual
                if _rank(draft.severity) < _rank(Severity(incident.severity)):
                    incident.severity = draft.severity.value
            await session.flush()
            await _outbox(session, incident)
        return incident, created

    async def note(self, fingerprint: str, action: str, text: str, resolve: bool = False) -> Incident | None:
        """Add an update (a remediation step, a recovery) to the open incident with this fingerprint."""
        incident = await _retrying(lambda: self._note_once(fingerprint, action, text, resolve))
        if incident is not None:
            self._push("incident.updated", incident)
        return incident

    async def _note_once(self, fingerprint: str, action: str, text: str, resolve: bool) -> Incident | None:
        async with self.sessions.begin() as session:
            incident = await _open(session, fingerprint)
            if incident is None:
                return None
            _append(incident, action, text)
            if resolve:
                incident.state, incident.resolved_at = "RESOLVED", utcnow()
            await _outbox(session, incident)
        return incident

    async def resolve_by_id(self, incident_id: uuid.UUID, who: str, text: str | None) -> Incident | None:
        incident = await _retrying(lambda: self._resolve_once(incident_id, who, text))
        if incident is not None:
            self._push("incident.updated", incident)
        return incident

    async def _resolve_once(self, incident_id: uuid.UUID, who: str, text: str | None) -> Incident | None:
        async with self.sessions.begin() as session:
            incident = await session.get(Incident, incident_id)
            if incident is None:
                return None
            if incident.state != "RESOLVED":
                _append(incident, "resolved", text or f"resolved by {who}", by=who)
                incident.state, incident.resolved_at = "RESOLVED", utcnow()
                await _outbox(session, incident)
        return incident

    async def purge(self, older_than: dt.timedelta) -> int:
        """Delete incidents resolved longer ago than `older_than`; open ones are always kept."""
        cutoff = utcnow() - older_than
        async with self.sessions.begin() as session:
            result = await session.execute(delete(Incident).where(Incident.state == "RESOLVED",
                                                                  Incident.resolved_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)

    async def _new(self, session: AsyncSession, draft: Draft) -> Incident:
        customer_id = site_id = None
        if draft.camera_id is not None:
            row = (await session.execute(select(Camera.customer_id, Camera.site_id)
                                         .where(Camera.id == draft.camera_id))).first()
            if row is not None:
                customer_id, site_id = row
        now = utcnow()
        return Incident(
            opened_at=now, updated_at=now, customer_id=customer_id, camera_id=draft.camera_id, site_id=site_id,
            model=draft.model, service=draft.service, incident_type=draft.incident_type.value,
            severity=draft.severity.value, state="OPEN", actual_value=draft.actual, threshold_value=draft.threshold,
            unit=draft.unit, message=draft.message[:500], fingerprint=draft.fingerprint,
            updates=[{"at": now.isoformat(), "action": "opened", "text": draft.message[:500],
                      "actual": draft.actual}])

    def _push(self, kind: str, incident: Incident) -> None:
        if self.hub is not None:
            self.hub.publish(kind, as_dict(incident), site_id=incident.site_id)


T = TypeVar("T")


async def _retrying(attempt: Callable[[], Awaitable[T]], tries: int = 5) -> T:
    """Run a read-modify-write of an incident again when another server (or the watchdog, while an operator
    resolves it) changed it first (stale version) or opened it first (unique open fingerprint)."""
    for left in range(tries - 1, -1, -1):
        try:
            return await attempt()
        except (IntegrityError, StaleDataError):
            if left == 0:
                raise
            await asyncio.sleep(0.01 * random.random())
    raise AssertionError("unreachable")


async def _open(session: AsyncSession, fingerprint: str) -> Incident | None:
    return await session.scalar(select(Incident).where(Incident.fingerprint == fingerprint,
                                                       Incident.state == "OPEN")
                                .order_by(Incident.opened_at.desc()).limit(1))


def _append(incident: Incident, action: str, text: str, **extra: Any) -> None:
    now = utcnow()
    entry = {"at": now.isoformat(), "action": action, "text": text[:500], **extra}
    incident.updates = [*incident.updates, entry][-MAX_UPDATES:]  # a new list, so the JSON column is saved
    incident.updated_at = now


def _rank(severity: Severity) -> int:
    return list(Severity).index(severity)


async def _outbox(session: AsyncSession, incident: Incident) -> None:
    try:
        from vms_server.cloudsync import outbox
    except ImportError:  # cloud sync not part of this build
        return
    await outbox.enqueue(session, "incident", f"incident:{incident.id}:{len(incident.updates)}",
                         as_dict(incident), incident.camera_id)
