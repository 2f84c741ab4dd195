"""Which licence entitlement each built-in analytics model needs, and why a licence refuses a model.

A licence names what the customer bought (`intrusion_detection`, `fire_smoke_detection`, ...); the server's models
have their own short names. This table is the one place they meet. A third-party plugin is not sold by us and is
not bound by the licence; a built-in model missing from the table would be, so a test checks the table covers all
ten.
"""

from __future__ import annotations

from vms_cloud_sync.protocol.licence import Analytics
from vms_server.licensing.service import LicenceState, LicenceStatus

MODEL_ENTITLEMENTS: dict[str, Analytics] = {
    "intrusion": Analytics.INTRUSION,
    "motion": Analytics.MOTION,
    "tampering": Analytics.TAMPERING,
    "fire_smoke": Analytics.FIRE_SMOKE,
    "crowd": Analytics.CROWD,
    "missing_object": Analytics.MISSING_OBJECT,
    "abnormal_behavior": Analytics.ABNORMAL_BEHAVIOUR,
    "fallen": Analytics.FALLEN,
    "tailgating": Analytics.TAILGATING,
    "anpr": Analytics.ANPR,
}


def refusal(status: LicenceStatus, model: str) -> str | None:
    """Why the licence in force does not allow `model` to run; None when it does.

    Evaluation (no licence imported) runs every model on its few cameras: a customer must be able to try what
    they would buy. A licence that is not valid yet, or expired past its grace period, runs none: recording
    goes on, analytics stop (as `status` documents)."""
    if status.state == LicenceState.UNLICENSED:
        return None
    if status.state not in (LicenceState.VALID, LicenceState.GRACE):
        return f"{model} needs a licence in force: {status.message}"
    needed = MODEL_ENTITLEMENTS.get(model)
    if needed is None or needed in status.analytics:
        return None
    bought = ", ".join(a.value for a in status.analytics) or "no analytics"
    return f"{model} needs the {needed.value} entitlement, which licence {status.licence_id} does not include " \
           f"(it includes {bought})"
