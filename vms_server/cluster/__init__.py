"""Several servers as one system: membership with leases, camera assignment with fencing tokens, failover.

Built on PostgreSQL (rows, row locks, advisory locks, the database clock) rather than a consensus protocol of our
own; see docs/cluster.md. Off unless `[cluster] enabled = true` on a PostgreSQL database.
"""
