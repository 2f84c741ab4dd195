"""Key material: the server's master secret and what is derived from it."""
