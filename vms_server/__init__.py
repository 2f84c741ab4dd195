"""VMS recording and analytics server."""

__version__ = "0.1.0"
