"""Sizing calculator: cameras and recording/analytics choices in, storage, bandwidth and compute out."""
