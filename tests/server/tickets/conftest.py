"""Tickets tests share the notification fixtures (fast worker, webhook receiver)."""

from tests.server.notifications.conftest import receiver, settings

__all__ = ["receiver", "settings"]
