"""Prometheus metrics (`/metrics`) for the server: HTTP, cameras, models, queues, process, GPU, events."""
