"""Formats shared by the cloud backend and the on-prem servers."""
