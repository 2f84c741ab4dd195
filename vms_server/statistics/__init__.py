"""Statistics API: counts, rates and trends for the system, a customer, a camera, a model and events."""
