"""Backup and restore of one installation: database, master secret, configuration, optionally the footage."""
