"""The tickets view."""
