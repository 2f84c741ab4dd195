"""Cameras: endpoints, stream profiles, credentials, tags and groups."""
