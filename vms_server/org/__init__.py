"""The customer and its physical hierarchy: site > building > floor > zone."""
