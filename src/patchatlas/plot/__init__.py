"""Matplotlib figures (optional ``[plot]`` extra); every function takes ``ax=`` and returns it."""
