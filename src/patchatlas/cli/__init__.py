"""The ``patchatlas`` command line: one entry point, one module per command group.

The console script is :func:`patchatlas.cli.main.main`; every command is a thin layer over the
Python API, so this package exports nothing of its own.
"""

__all__: list[str] = []
