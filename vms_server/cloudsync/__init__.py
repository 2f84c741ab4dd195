"""The cloud-sync agent inside the server: an outbox written in the same transaction as the change it
describes, and a pusher that delivers it to the cloud backend in order, exactly once (idempotency keys)."""
