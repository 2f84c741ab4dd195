"""Users, roles, passwords, MFA and tokens."""
