"""Hierarchical configuration: typed keys, four levels (system < customer < site < camera, plus per-model
overrides), a cache shared through Redis, versions and rollback on top of the audit chain."""
