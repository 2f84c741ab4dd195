"""Who is calling and what they may do: principals, roles, password hashing."""
