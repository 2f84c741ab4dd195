"""Portable SQLAlchemy pieces: naming convention, UTC timestamps, key and timestamp mixins."""
