"""Watchdog: job timings against SLAs, worker heartbeats and restarts, incidents, remediation."""
