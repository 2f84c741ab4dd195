"""Alerts that leave the console: routing rules, a durable delivery queue, channels, quiet hours, escalation."""
