"""The shape of the package, checked on its import graph (every ``import`` statement in
``src/patchatlas``, at module level or inside functions, ``TYPE_CHECKING`` blocks included).

Nodes are the top-level parts of ``patchatlas``: subpackages (``core``, ``io``, ``ephys`` ...)
and root modules (``errors``, ``reading`` ...). The rules (``shared/GUIDE.md``):

* ``core`` (the data model) is a leaf: it imports only ``errors`` (and ``_version``);
* engines import no ``io``, ``atlas``, ``pipeline``, ``web``, ``cli``, ``datasets``, ``plot`` or
  ``reading`` (they take and return in-memory objects);
* ``io`` imports no engine and none of ``atlas``, ``pipeline``, ``web``, ``cli``, ``datasets``,
  ``plot``;
* ``atlas`` imports none of ``pipeline``, ``web``, ``cli``, ``datasets``, ``plot``;
* nothing inside the package imports the facade ``patchatlas/__init__.py``;
* no cycle between the nodes;
* no leading-underscore name (or private module) is imported from another module, unless it
  comes from a private seam module (``_x.py``) of the same subpackage. ``patchatlas._version``
  (the version the build backend reads) is the root's seam.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "patchatlas"

ENGINES = {
    "ephys",
    "morphology",
    "transcriptomics",
    "crossmodal",
    "celltyping",
    "models",
    "synphys",
}
ACCESS = {"pipeline", "web", "cli", "datasets", "plot"}
FORBIDDEN = {
    **{key: frozenset({"io", "atlas", "reading", *ACCESS}) for key in ENGINES},
    "io": frozenset({"atlas", "reading", *ACCESS, *ENGINES}),
    "atlas": frozenset(ACCESS),
    "core": frozenset({"io", "atlas", "reading", *ACCESS, *ENGINES}),
}
ROOT_SEAMS = {"_version"}


def _module_name(path: Path) -> list[str]:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return parts


def _node(parts: list[str]) -> str:
    """The top-level part of ``patchatlas`` a module belongs to (``<facade>`` for the root)."""
    return "<facade>" if len(parts) == 1 else parts[1]


def _imports() -> list[tuple[list[str], list[str], list[str]]]:
    """``(importer module, imported module, imported names)`` for every import of the package."""
    out = []
    for path in sorted(PKG.rglob("*.py")):
        mod = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod[: len(mod) - node.level + (1 if path.name == "__init__.py" else 0)]
                    target = base + (node.module.split(".") if node.module else [])
                else:
                    target = (node.module or "").split(".")
                if target[0] != "patchatlas":
                    continue
                out.append((mod, target, [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == "patchatlas":
                        out.append((mod, a.name.split("."), []))
    return out


IMPORTS = _imports()


def _target_node(target: list[str], names: list[str]) -> str:
    if len(target) == 1:  # ``from patchatlas import x``: x is a root module or the facade
        sub = [n for n in names if (PKG / n).is_dir() or (PKG / f"{n}.py").is_file()]
        return sub[0] if sub else "<facade>"
    return target[1]


def test_the_graph_is_not_empty() -> None:
    assert len(IMPORTS) > 300


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_what_they_may(layer: str) -> None:
    bad = sorted(
        {
            (".".join(mod), ".".join(target))
            for mod, target, names in IMPORTS
            if _node(mod) == layer and _target_node(target, names) in FORBIDDEN[layer]
        }
    )
    assert not bad, f"{layer} imports a layer it must not: {bad}"


def test_core_imports_only_errors() -> None:
    bad = sorted(
        {
            ".".join(target)
            for mod, target, names in IMPORTS
            if _node(mod) == "core"
            and _target_node(target, names) not in ("core", "errors", *ROOT_SEAMS)
        }
    )
    assert not bad, bad


def test_nothing_imports_the_facade() -> None:
    bad = sorted(
        {
            ".".join(mod)
            for mod, target, names in IMPORTS
            if _node(mod) != "<facade>" and _target_node(target, names) == "<facade>"
        }
    )
    assert not bad, f"import patchatlas.<module> (not the facade) inside the package: {bad}"


def test_no_cycle_between_subpackages() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for mod, target, names in IMPORTS:
        a, b = _node(mod), _target_node(target, names)
        if a != b:
            edges[a].add(b)
    seen: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        seen[n] = 1
        stack.append(n)
        for m in sorted(edges[n]):
            if seen.get(m) == 1:
                return [*stack[stack.index(m) :], m]
            if m not in seen and (cycle := visit(m)):
                return cycle
        stack.pop()
        seen[n] = 2
        return None

    for n in sorted(edges):
        if n not in seen:
            cycle = visit(n)
            assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_private_name_crosses_modules() -> None:
    bad = []
    for mod, target, names in IMPORTS:
        if target == mod:
            continue
        same_sub = len(mod) > 1 and len(target) > 1 and mod[1] == target[1]
        root_seam = len(target) == 2 and target[1] in ROOT_SEAMS
        seam_module = _private(target[-1]) and same_sub
        # a private module in the import path (patchatlas.ephys._kernel ...)
        for part in target[1:]:
            if _private(part) and not same_sub and part not in ROOT_SEAMS:
                bad.append((".".join(mod), ".".join(target), part))
        for n in names:
            if not _private(n) or root_seam or seam_module:
                continue
            # ``from patchatlas.ephys import _kernel``: a private module of the same subpackage
            is_module = (PKG.joinpath(*target[1:], f"{n}.py")).is_file() or (
                PKG.joinpath(*target[1:], n).is_dir()
            )
            if is_module and same_sub:
                continue
            bad.append((".".join(mod), ".".join(target), n))
    assert not bad, "private names imported across modules:\n" + "\n".join(map(str, bad))


def _calls_and_handlers() -> list[tuple[str, str, int]]:
    """(module, what, line) for warning-filter calls and broad exception handlers."""
    found = []
    for path in sorted(PKG.rglob("*.py")):
        mod = ".".join(_module_name(path))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if (
                    isinstance(owner, ast.Name)
                    and owner.id == "warnings"
                    and node.func.attr in ("simplefilter", "filterwarnings", "catch_warnings")
                ):
                    found.append((mod, f"warnings.{node.func.attr}", node.lineno))
            if isinstance(node, ast.ExceptHandler):
                broad = node.type is None or (
                    isinstance(node.type, ast.Name)
                    and node.type.id in ("Exception", "BaseException")
                )
                if broad:
                    found.append((mod, "except Exception", node.lineno))
    return found


FOUND = _calls_and_handlers()


def test_no_process_wide_warning_filters() -> None:
    """Warning filters are process-wide state (unsafe under the portal's threads and on Dask
    workers): library code never sets them; the CLI reports warnings through logging."""
    bad = [f for f in FOUND if f[1].startswith("warnings.")]
    assert not bad, bad


def test_engines_do_not_catch_every_exception() -> None:
    """The science path catches :class:`~patchatlas.errors.PatchAtlasError` (bad data) and the
    numerical conditions it means to tolerate, never ``Exception``: a bug must surface."""
    bad = [f for f in FOUND if f[1] == "except Exception" and f[0].split(".")[1] in ENGINES]
    assert not bad, bad
