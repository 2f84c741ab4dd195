"""Shared wall layouts: operators publish a layout so colleagues (and other consoles) can open it."""
