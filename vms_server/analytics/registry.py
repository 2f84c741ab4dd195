"""Models by name: the ten built-ins (imported lazily, nothing runs at import time) and third-party plugins
from the `vms.analytics` entry point group."""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points

from vms_server.analytics.base import AnalyticsModel

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "vms.analytics"

# name -> "module:Class"; the order is the requirements table's.
BUILTIN: dict[str, str] = {
    "intrusion": "vms_server.analytics.plugins.intrusion:IntrusionModel",
    "motion": "vms_server.analytics.plugins.motion:MotionModel",
    "tampering": "vms_server.analytics.plugins.tampering:TamperingModel",
    "fire_smoke": "vms_server.analytics.plugins.fire_smoke:FireSmokeModel",
    "crowd": "vms_server.analytics.plugins.crowd:CrowdModel",
    "missing_object": "vms_server.analytics.plugins.missing_object:MissingObjectModel",
    "abnormal_behavior": "vms_server.analytics.plugins.abnormal_behavior:AbnormalBehaviorModel",
    "fallen": "vms_server.analytics.plugins.fallen:FallenModel",
    "tailgating": "vms_server.analytics.plugins.tailgating:TailgatingModel",
    "anpr": "vms_server.analytics.plugins.anpr:AnprModel",
}


def _load(target: str) -> type[AnalyticsModel]:
    module, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, AnalyticsModel)):
        raise TypeError(f"{target} is not an AnalyticsModel")
    return cls


class ModelRegistry:
    """Name -> model class. Built-ins first; an entry point may not shadow a built-in name."""

    def __init__(self, *, include_entry_points: bool = True) -> None:
        self._targets: dict[str, str] = dict(BUILTIN)
        self._classes: dict[str, type[AnalyticsModel]] = {}
        if include_entry_points:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                if self._targets.get(ep.name) == ep.value:
                    continue  # our own package's declaration of a built-in
                if ep.name in self._targets:
                    logger.warning("analytics plugin %s ignored: the name is taken by a built-in model", ep.name)
                    continue
                self._targets[ep.name] = ep.value

    def names(self) -> list[str]:
        return list(self._targets)

    def register(self, cls: type[AnalyticsModel]) -> None:
        """Add a model class directly (tests, embedding applications)."""
        self._targets[cls.name] = f"{cls.__module__}:{cls.__qualname__}"
        self._classes[cls.name] = cls

    def get(self, name: str) -> type[AnalyticsModel]:
        """The class of a model. Raises KeyError for an unknown name."""
        if name not in self._classes:
            self._classes[name] = _load(self._targets[name])
        return self._classes[name]

    def __contains__(self, name: object) -> bool:
        return name in self._targets
