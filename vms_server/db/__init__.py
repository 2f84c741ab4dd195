"""Database access: engine, typed models base, migrations."""
