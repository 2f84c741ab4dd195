"""Errors of the analytics package; the API maps the subclasses of VmsError itself."""

from __future__ import annotations


class AnalyticsError(Exception):
    """Base of analytics failures that are not API input errors."""


class ModelUnavailable(AnalyticsError):
    """A model is declared but cannot run on this node (no implementation, no weights)."""


class QueueClosed(AnalyticsError):
    """The queue back end was closed while a worker waited on it."""
