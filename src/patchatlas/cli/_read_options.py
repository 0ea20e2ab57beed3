"""The reader overrides every command that reads recordings offers (argument parsing only):
``--channels``, ``--clamp-mode``, ``--units`` and ``--plausibility``, passed on to
:func:`patchatlas.read`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def parse_assignments(text: str | None, option: str, *, integer: bool) -> dict[str, Any] | None:
    """``"v=1,i=0"`` → ``{"v": 1, "i": 0}`` (``integer=False``: values kept as text).

    Parameters
    ----------
    text
        The option's value (``None``: not given).
    option
        The option's name, for the error message.
    integer
        Convert the values to int.

    Returns
    -------
    dict or None
        Role → channel index (or unit); None when ``text`` is None.

    Raises
    ------
    click.BadParameter
        Not a comma-separated list of ``role=value`` pairs (with integer values when asked).
    """
    if text is None:
        return None
    out: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, val = part.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise click.BadParameter(
                f"expected role=value pairs such as v=1,i=0, got {text!r}", param_hint=option
            )
        try:
            out[key.strip()] = int(val) if integer else val.strip()
        except ValueError:
            raise click.BadParameter(
                f"{key.strip()}={val.strip()}: not a channel index", param_hint=option
            ) from None
    return out


def reader_options(
    *, plausibility_default: str | None = None, plausibility_help: str | None = None
) -> Callable[[F], F]:
    """Decorator adding the reader overrides to a click command.

    The command receives the keyword arguments ``channels``, ``clamp_mode``, ``units`` and
    ``plausibility``; :func:`read_kwargs` turns them into :func:`patchatlas.read` options.

    Parameters
    ----------
    plausibility_default
        Default of ``--plausibility`` (``None``: the reader's own, which refuses implausible
        files).
    plausibility_help
        Help text of ``--plausibility`` (default: a generic one).

    Returns
    -------
    callable
        The decorator.
    """
    options = [
        click.option(
            "--channels",
            default=None,
            metavar="ROLE=INDEX,...",
            help="ABF: which inputs are the membrane voltage and the current, e.g. v=1,i=0 (and "
            "command=K for the output DAC K); overrides what the header implies.",
        ),
        click.option(
            "--clamp-mode",
            type=click.Choice(["current_clamp", "voltage_clamp"]),
            default=None,
            help="ABF: the clamp mode, overriding what the header implies.",
        ),
        click.option(
            "--units",
            default=None,
            metavar="ROLE=UNIT,...",
            help="ABF: the true unit of a role's channel when the header's label is wrong, "
            "e.g. i=pA.",
        ),
        click.option(
            "--plausibility",
            type=click.Choice(["error", "warn"]),
            default=plausibility_default,
            show_default=plausibility_default is not None,
            help=plausibility_help
            or "'warn' reads files with implausible values anyway (default: refuse them).",
        ),
    ]

    def decorate(func: F) -> F:
        for opt in reversed(options):
            func = opt(func)
        return func

    return decorate


def read_kwargs(
    *,
    channels: str | None,
    clamp_mode: str | None,
    units: str | None,
    plausibility: str | None,
) -> dict[str, Any]:
    """The :func:`patchatlas.read` options given on the command line (only those given).

    Parameters
    ----------
    channels
        ``--channels`` (``"v=1,i=0"``) or None.
    clamp_mode
        ``--clamp-mode`` or None.
    units
        ``--units`` (``"i=pA"``) or None.
    plausibility
        ``--plausibility`` or None.

    Returns
    -------
    dict
        Keyword arguments for :func:`patchatlas.read`.

    Raises
    ------
    click.BadParameter
        A malformed ``--channels`` or ``--units``.
    """
    options: dict[str, Any] = {}
    chosen = parse_assignments(channels, "--channels", integer=True)
    if chosen is not None:
        options["channels"] = chosen
    if clamp_mode is not None:
        options["clamp_mode"] = clamp_mode
    unit_map = parse_assignments(units, "--units", integer=False)
    if unit_map is not None:
        options["units"] = unit_map
    if plausibility is not None:
        options["plausibility"] = plausibility
    return options
