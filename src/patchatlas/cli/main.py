"""Entry point of the ``patchatlas`` command.

Sub-commands live in their own modules and are imported only when used, so ``patchatlas --help``
and ``patchatlas --version`` stay fast. To add a command group, add one line to ``COMMANDS``.
"""

from __future__ import annotations

import importlib
import logging
import sys
import warnings
from typing import Any

import click

from patchatlas._version import __version__

__all__ = ["COMMANDS", "main"]

# command name -> "module:attribute" of a click command or group
COMMANDS: dict[str, str] = {
    "info": "patchatlas.cli.info:info",
    "demo": "patchatlas.cli.demo:demo",
    "ephys": "patchatlas.cli.ephys:ephys",
    "morph": "patchatlas.cli.morph:morph",
    "crossmodal": "patchatlas.cli.crossmodal:crossmodal",
    "celltypes": "patchatlas.cli.celltypes:celltypes",
    "atlas": "patchatlas.cli.atlas:atlas",
    "ingest": "patchatlas.cli.ingest:ingest",
    "fetch": "patchatlas.cli.fetch:fetch",
    "serve": "patchatlas.cli.serve:serve",
    "biophys": "patchatlas.cli.biophys:biophys",
    "glif": "patchatlas.cli.glif:glif",
    "synphys": "patchatlas.cli.synphys:synphys",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        cmd: click.Command = getattr(importlib.import_module(module), attr)
        return cmd


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="patchatlas")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """patchatlas: single-neuron cell-types data, from files to an atlas."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # warnings (a lowered dV/dt filter, a reader's note ...) are reported, not silenced: the
    # library never filters them; the command line shows each as one log line
    warnings.showwarning = _show_warning


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    logging.getLogger("patchatlas").warning("%s: %s", category.__name__, message)


def main(argv: list[str] | None = None) -> Any:
    """Run the ``patchatlas`` command (the console script's entry point).

    Bad input ends with a one-line error on stderr, not a traceback.

    Parameters
    ----------
    argv
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    Any
        The invoked command's return value (click's non-standalone mode), usually ``None``.

    Raises
    ------
    SystemExit
        Status 1 when aborted (Ctrl-C), click's exit code for a usage error, 2 for a
        :class:`patchatlas.errors.PatchAtlasError` (bad input, missing file ...); a command that
        fails (an ingest whose cells all failed, a demo step that failed ...) exits non-zero
        itself.
    """
    from patchatlas.errors import PatchAtlasError

    try:
        return cli.main(args=argv, prog_name="patchatlas", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except PatchAtlasError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
