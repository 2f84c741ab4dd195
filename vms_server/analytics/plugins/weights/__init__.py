"""The shipped model weights (package data, found with importlib.resources), each with its licence notice."""
