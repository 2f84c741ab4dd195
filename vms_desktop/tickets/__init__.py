"""Tickets in the operator client: the typed client layer, the table model and the tickets view."""
