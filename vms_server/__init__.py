"""VMS recording and analytics server."""
