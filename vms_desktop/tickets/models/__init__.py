"""Tickets: what the server holds, typed, and the table the view shows."""
