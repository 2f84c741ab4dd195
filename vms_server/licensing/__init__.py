"""Signed licences: verification and the limits they grant."""
