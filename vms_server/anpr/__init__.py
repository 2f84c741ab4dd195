"""Number plate reads and watchlists: the events side of the ANPR model (vms_server.analytics.plugins.anpr)."""
