"""The public API is documented and discoverable.

* **numpydoc on every public callable.** For every name in the ``__all__`` of every public module
  (no leading-underscore part, no ``web.static`` / ``atlas.migrations``), a function or class
  defined in patchatlas has a docstring; a function or public method with parameters has a
  numpydoc ``Parameters`` section naming each of them (grouped names such as ``t, v`` count;
  ``*args`` / ``**kwargs`` are not required); one that returns something (a return annotation
  other than ``None``) has a ``Returns`` (or ``Yields``) section. Offenders are listed per
  subpackage (the module that defines the object decides).
* **Every public package exports what it says.** Its ``__all__`` names resolve, ``dir(package)``
  lists them all (lazily loaded names through ``__dir__``), and each lazily loaded name is
  imported under ``if TYPE_CHECKING:`` in the package ``__init__`` so type checkers and IDEs see
  it. Lazy names are found statically: names of ``__all__`` not bound at the top level of the
  ``__init__`` outside ``TYPE_CHECKING``.
* **The README's Python examples use exported names.** Every ``from patchatlas... import name``
  and every ``patchatlas.<pkg>.<name>(...)`` call in a ```python block of README.md resolves, and
  ``name`` is in the ``__all__`` of the package the README names.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import IN_CI, ROOT

SRC = ROOT / "src"
PKG = SRC / "patchatlas"
README = ROOT / "README.md"
#: folders that are not Python API (static assets, Alembic revision scripts)
SKIP = ("patchatlas.web.static", "patchatlas.atlas.migrations")
#: packages that must be among the discovered ones (the discovery must not lose them)
KNOWN_PACKAGES = {
    "patchatlas",
    "patchatlas.core",
    "patchatlas.io",
    "patchatlas.ephys",
    "patchatlas.morphology",
    "patchatlas.transcriptomics",
    "patchatlas.crossmodal",
    "patchatlas.atlas",
    "patchatlas.pipeline",
    "patchatlas.datasets",
    "patchatlas.models",
    "patchatlas.plot",
    "patchatlas.web",
    "patchatlas.cli",
}


# --------------------------------------------------------------------------------------------
# Discovery (from the file tree, so that parametrisation imports nothing)
# --------------------------------------------------------------------------------------------


def _dotted(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _public(name: str) -> bool:
    return not name.startswith(SKIP) and not any(p.startswith("_") for p in name.split(".")[1:])


def public_modules() -> list[str]:
    """Dotted names of the public modules and packages of patchatlas (``patchatlas`` first)."""
    names = {_dotted(p) for p in PKG.rglob("*.py")}
    return sorted((n for n in names if _public(n)), key=lambda n: (n != "patchatlas", n))


def public_packages() -> list[str]:
    """Dotted names of the public packages (folders with an ``__init__.py``)."""
    return [n for n in public_modules() if (SRC / n.replace(".", "/") / "__init__.py").is_file()]


def top_level_parts() -> list[str]:
    """The parts an offender is filed under: root modules and subpackages (public ones)."""
    return sorted({n.split(".")[1] for n in public_modules() if "." in n})


def _try_import(name: str) -> ModuleType | str:
    """Import a public module, or say which optional dependency is missing (fails in CI)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if (getattr(exc, "name", None) or "").startswith("patchatlas"):
            raise
        msg = f"{name} cannot be imported ({exc}); install patchatlas[dev]"
        if IN_CI:
            pytest.fail(msg)
        return msg


def _import(name: str) -> ModuleType:
    """Import a public module; a missing optional dependency skips outside CI, fails in CI."""
    mod = _try_import(name)
    if isinstance(mod, str):
        pytest.skip(mod)
    return mod


# --------------------------------------------------------------------------------------------
# numpydoc
# --------------------------------------------------------------------------------------------

_SECTION = re.compile(r"^(\w[\w ]*)\n-{3,}$", re.M)
_PARAMETERS = re.compile(r"^Parameters\n-{3,}\n(.*?)(?:\n\n\w[\w ]*\n-{3,}|\Z)", re.S | re.M)


def sections(doc: str) -> set[str]:
    """Titles of the numpydoc sections of a (dedented) docstring."""
    return set(_SECTION.findall(doc))


def documented_parameters(doc: str) -> set[str]:
    """Names listed in the ``Parameters`` section (``t, v : array`` gives ``t`` and ``v``)."""
    m = _PARAMETERS.search(doc)
    if not m:
        return set()
    names = set()
    for line in m.group(1).splitlines():
        if line and not line.startswith(" "):
            for n in line.split(":")[0].split(","):
                names.add(n.strip().lstrip("*"))
    return names


def callable_problems(obj: Callable[..., Any], where: str) -> list[str]:
    """What the docstring of one function or method lacks (empty when it is complete)."""
    doc = inspect.getdoc(obj) or ""
    if not doc:
        return [f"{where}: no docstring"]
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return []
    out = []
    params = [
        p.name
        for p in sig.parameters.values()
        if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    missing = [p for p in params if p not in documented_parameters(doc)]
    if missing:
        out.append(f"{where}: parameters not documented: {', '.join(missing)}")
    ret = sig.return_annotation
    if ret not in (None, "None", inspect.Signature.empty) and not {"Returns", "Yields"} & sections(
        doc
    ):
        out.append(f"{where}: no Returns section")
    return out


def _exported_objects() -> Iterator[tuple[str, Any]]:
    """``(defining module, object)`` for each function or class exported by a public module,
    once each."""
    seen: set[int] = set()
    for name in public_modules():
        mod = _try_import(name)
        if isinstance(mod, str):  # an optional dependency is missing (outside CI)
            continue
        for attr in getattr(mod, "__all__", []):
            obj = getattr(mod, attr, None)
            if (
                obj is None
                or id(obj) in seen
                or not str(getattr(obj, "__module__", "")).startswith("patchatlas")
                or not (inspect.isfunction(obj) or inspect.isclass(obj))
            ):
                continue
            seen.add(id(obj))
            yield obj.__module__, obj


def docstring_problems() -> dict[str, list[str]]:
    """Offenders per top-level part (``core``, ``io``, ``ephys`` ...)."""
    out: dict[str, list[str]] = {}
    for module, obj in _exported_objects():
        where = f"{module}.{obj.__qualname__}"
        found: list[str] = []
        if inspect.isfunction(obj):
            found += callable_problems(obj, where)
        else:
            if not inspect.getdoc(obj):
                found.append(f"{where}: no docstring")
            # a dataclass field whose default is a function (``available = lambda: True``) is
            # data, not a method
            fields = set()
            if dataclasses.is_dataclass(obj):
                fields = {f.name for f in dataclasses.fields(obj)}
            for mname, meth in vars(obj).items():
                if mname.startswith("_") or mname in fields:
                    continue
                if isinstance(meth, staticmethod | classmethod):
                    meth = meth.__func__
                if inspect.isfunction(meth):
                    found += callable_problems(meth, f"{where}.{mname}")
        part = module.split(".")[1] if "." in module else "__init__"
        out.setdefault(part, []).extend(found)
    return out


@pytest.fixture(scope="module")
def problems() -> dict[str, list[str]]:
    return docstring_problems()


def test_the_checker_finds_what_is_missing() -> None:
    def documented(t: Any, v: Any, *, start: float = 0.0) -> int:
        """Count.

        Parameters
        ----------
        t, v : array
            Times (s) and voltages (mV).
        start : float
            Start (s).

        Returns
        -------
        int
            A count.
        """
        return 0

    def undocumented(x: int, *args: Any, y: int = 0, **kwargs: Any) -> int:
        """Count.

        Parameters
        ----------
        x : int
            Something.
        """
        return 0

    def silent() -> None:
        pass

    assert callable_problems(documented, "d") == []
    assert callable_problems(undocumented, "u") == [
        "u: parameters not documented: y",
        "u: no Returns section",
    ]
    assert callable_problems(silent, "s") == ["s: no docstring"]


def test_modules_are_discovered() -> None:
    assert set(public_packages()) >= KNOWN_PACKAGES
    assert {"core", "io", "ephys", "atlas", "errors", "reading"} <= set(top_level_parts())


def test_every_offender_is_filed_under_a_tested_part(problems: dict[str, list[str]]) -> None:
    assert set(problems) <= set(top_level_parts())


@pytest.mark.parametrize("part", top_level_parts())
def test_public_callables_have_numpydoc(part: str, problems: dict[str, list[str]]) -> None:
    found = problems.get(part, [])
    assert not found, f"{len(found)} numpydoc problems in patchatlas.{part}:\n" + "\n".join(found)


# --------------------------------------------------------------------------------------------
# Packages: __all__, __dir__, TYPE_CHECKING
# --------------------------------------------------------------------------------------------


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _bound(stmts: list[ast.stmt], eager: set[str], typing_only: set[str]) -> None:
    """Collect names bound by top-level statements: ``eager`` at runtime, ``typing_only``
    under ``if TYPE_CHECKING:``."""
    for node in stmts:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            sub: set[str] = set()
            _bound(node.body, sub, sub)
            typing_only |= sub
            _bound(node.orelse, eager, typing_only)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for a in node.names:
                eager.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            eager.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                eager |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.If | ast.Try | ast.With | ast.For | ast.While):
            for field in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, field, []):
                    _bound(
                        child.body if isinstance(child, ast.ExceptHandler) else [child],
                        eager,
                        typing_only,
                    )


def init_bindings(package: str) -> tuple[set[str], set[str]]:
    """Names the package ``__init__`` binds at runtime, and those it imports for type checkers."""
    path = SRC / package.replace(".", "/") / "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    eager: set[str] = set()
    typing_only: set[str] = set()
    _bound(tree.body, eager, typing_only)
    return eager, typing_only


@pytest.mark.parametrize("package", public_packages())
def test_package_all_resolves_and_is_listed(package: str) -> None:
    mod = _import(package)
    assert hasattr(mod, "__all__"), f"{package} has no __all__"
    names = list(mod.__all__)
    assert len(names) == len(set(names)), f"{package}.__all__ repeats names"
    unresolved = []
    for n in names:
        try:
            getattr(mod, n)
        except AttributeError as exc:
            unresolved.append(f"{n} ({exc})")
    assert not unresolved, f"{package}.__all__ names that do not resolve: {unresolved}"
    hidden = sorted(set(names) - set(dir(mod)))
    assert not hidden, f"dir({package}) misses {hidden}: define __dir__ for the lazy names"


@pytest.mark.parametrize("package", public_packages())
def test_lazy_names_are_visible_to_type_checkers(package: str) -> None:
    mod = _import(package)
    eager, typing_only = init_bindings(package)
    lazy = set(getattr(mod, "__all__", [])) - eager
    invisible = sorted(lazy - typing_only)
    assert not invisible, (
        f"{package} loads {invisible} lazily without importing them under `if TYPE_CHECKING:` "
        "in its __init__"
    )


def test_lazy_name_detection() -> None:
    eager, typing_only = init_bindings("patchatlas")
    assert {"read", "errors", "__version__"} <= eager
    assert "Atlas" in typing_only and "Atlas" not in eager


# --------------------------------------------------------------------------------------------
# README examples
# --------------------------------------------------------------------------------------------


def readme_blocks() -> list[str]:
    """The ```python blocks of README.md."""
    text = README.read_text(encoding="utf-8")
    return re.findall(r"^```python[^\n]*\n(.*?)^```", text, re.S | re.M)


def _chain(node: ast.expr) -> list[str] | None:
    """``["patchatlas", "morphology", "validate"]`` for ``patchatlas.morphology.validate``."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id == "patchatlas":
        return ["patchatlas", *reversed(parts)]
    return None


def readme_references() -> list[tuple[str, str]]:
    """``(package, name)`` for each patchatlas name the README's Python examples use."""
    refs = []
    for block in readme_blocks():
        tree = ast.parse(block)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == (
                "patchatlas"
            ):
                refs += [(str(node.module), a.name) for a in node.names]
            elif isinstance(node, ast.Call) and (chain := _chain(node.func)) and len(chain) > 1:
                refs.append((".".join(chain[:-1]), chain[-1]))
    return sorted(set(refs))


def test_readme_examples_are_found() -> None:
    refs = readme_references()
    assert ("patchatlas", "read") in refs
    assert any(pkg != "patchatlas" for pkg, _ in refs)


@pytest.mark.parametrize(("package", "name"), readme_references())
def test_readme_names_are_exported(package: str, name: str) -> None:
    mod = _import(package)
    assert hasattr(mod, name), f"README uses {package}.{name}, which does not exist"
    assert name in getattr(mod, "__all__", []), (
        f"README uses {package}.{name}, which is not in {package}.__all__"
    )
