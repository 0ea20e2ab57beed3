"""Matplotlib figures; every function takes ``ax=`` and returns it."""
