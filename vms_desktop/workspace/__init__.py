"""Multi-monitor workspaces: the operator's wall windows (screen, geometry, layout) saved and restored."""
