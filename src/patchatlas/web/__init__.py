"""The web portal and REST API of an atlas (needs the ``web`` extra).

>>> from patchatlas.web import create_app
>>> app = create_app("sqlite:///atlas.db")          # doctest: +SKIP

or from the shell: ``patchatlas serve --atlas sqlite:///atlas.db``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["create_app"]

if TYPE_CHECKING:
    from patchatlas.web.app import create_app


def __getattr__(name: str) -> Any:
    if name == "create_app":
        try:
            from patchatlas.web.app import create_app
        except ImportError as exc:  # fastapi / jinja2 missing
            from patchatlas.atlas import MissingDependencyError

            raise MissingDependencyError(
                f"the web portal needs {exc.name}; install it with `pip install 'patchatlas[web]'`"
            ) from exc
        return create_app
    raise AttributeError(name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
