"""Alembic environment of the cloud backend (online only, with a connection handed over by migrate.py)."""

from __future__ import annotations

from alembic import context

from vms_cloud_sync.backend.models import CloudBase

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run backend migrations through `vms-cloud migrate`")
context.configure(connection=connection, target_metadata=CloudBase.metadata)
with context.begin_transaction():
    context.run_migrations()
