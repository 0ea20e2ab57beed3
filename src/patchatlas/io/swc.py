"""SWC reader and writer (``id type x y z radius parent``, µm, radius column).

Tolerant of what real files contain: ``#`` comments anywhere (also at the end of a data line),
tabs, repeated and trailing whitespace, Windows line ends, ids/types/parents written as floats
(``1.000000``), unsorted ids, several roots, 1-, 3- and N-point somata, type 0 and custom types,
extra columns (ignored, with an issue). Nothing is dropped or relabelled silently: everything
unusual becomes an :class:`~patchatlas.morphology.Issue` on the returned morphology.

Refused with a clear error: Allen ``*_marker_m.swc`` marker lists, empty files, lines with fewer
than 7 columns or non-numeric values, non-integral ids, parent cycles, and files larger than
``max_bytes`` (bounded memory: the size is checked before reading).

Clean files (one space between the 7 values: nearly every real file) are parsed by pyarrow's
CSV reader when it is installed (``patchatlas[morphology]``): a 16,000-node file in ~4 ms,
correctly rounded like ``strtod``. Everything else is parsed vectorised over the file's bytes
(line and token boundaries found with numpy, plain decimals decoded exactly; pandas' C parser
for large files), which also names the first bad line of a malformed file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from patchatlas.errors import CorruptFileError, ReadError, UnsupportedFormatError, ValidationError
from patchatlas.io._common import check_file

if TYPE_CHECKING:
    from patchatlas.core.morphology import Issue, Morphology

__all__ = ["DEFAULT_MAX_BYTES", "parse_swc", "read_swc", "write_swc"]

#: Largest SWC read by default (a large single neuron is ~5 MB; whole-brain tracings ~100 MB).
DEFAULT_MAX_BYTES = 256 * 1024 * 1024

_COMMENT = re.compile(rb"#[^\n]*")
_MARKER_HEADER = re.compile(rb"^\s*##?\s*x\s*,\s*y\s*,\s*z\s*,\s*radius\s*,\s*shape", re.I | re.M)


def _is_marker_file(path: Path | None, head: bytes) -> bool:
    if path is not None and path.name.lower().endswith("_marker_m.swc"):
        return True
    return bool(_MARKER_HEADER.search(head[:4096]))


def parse_swc(data: bytes, *, name: str = "", source: str | None = None) -> Morphology:
    """Parse SWC text (bytes) into a :class:`~patchatlas.morphology.Morphology`.

    Parameters
    ----------
    data
        The file's content.
    name, source
        Label and path used in messages.

    Returns
    -------
    Morphology
        Coordinates and radii in µm, rows in topological order; reading issues (duplicated
        ids, missing parents, comma separators ...) in ``morph.issues``.

    Raises
    ------
    patchatlas.errors.UnsupportedFormatError
        An Allen marker file (marker points, not a reconstruction).
    patchatlas.errors.CorruptFileError
        NUL bytes, no data lines, short or non-numeric lines, non-integral ids, parent cycles.
    """
    from patchatlas.core.morphology import Issue

    where = Path(source) if source else None
    issues: list[Issue] = []
    if _is_marker_file(where, data):
        raise UnsupportedFormatError(
            where,
            "is an Allen marker file (a list of marker points, not a reconstruction)",
            "read the matching *_m.swc file without '_marker' instead",
        )
    if b"\x00" in data[:65536]:
        raise CorruptFileError(where, "contains NUL bytes: this is not an SWC text file")
    text = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if b"\r" in data else data
    if b"#" in text:
        text = _COMMENT.sub(b"", text)
    if b"," in text:
        text = text.replace(b",", b" ")
        issues.append(
            Issue("COMMA_SEPARATED", "info", (), "values are separated by commas; read anyway")
        )
    buf = np.frombuffer(text, dtype=np.uint8)
    if b"," not in text:
        fast = _arrow_table(text, buf)
        if fast is not None:
            vals, line_no = fast
            return _build(vals, line_no, text, name, source, where, issues)
    if buf.size == 0 or not bool((buf > 32).any()):
        raise CorruptFileError(where, "holds no data lines (only comments or blanks)")
    # line and token boundaries, vectorised
    nl = np.flatnonzero(buf == 10)
    starts = np.concatenate([[0], nl + 1])
    starts = starts[starts < buf.size] if starts[-1] >= buf.size else starts
    nonws = buf > 32
    tok_start = nonws.copy()
    tok_start[1:] &= ~nonws[:-1]
    per_line = np.add.reduceat(tok_start.astype(np.int64), starts)
    # reduceat of an empty trailing segment repeats the element; fix the empty last line
    if starts[-1] == buf.size:
        per_line[-1] = 0
    data_lines = np.flatnonzero(per_line > 0)
    counts = per_line[data_lines]
    line_no = data_lines.astype(np.int64) + 1
    short = counts < 7
    if short.any():
        k = int(np.flatnonzero(short)[0])
        raise CorruptFileError(
            where,
            f"line {int(line_no[k])} has {int(counts[k])} value(s); an SWC line needs 7 "
            "(id type x y z radius parent)",
            "fix or remove that line",
        )
    n = data_lines.size
    table: npt.NDArray[np.float64] | None = None
    if bool(np.all(counts == 7)):
        # numpy's per-byte passes beat pandas' ~1 ms start-up only on small files
        if buf.size <= _DECIMAL_MAX_BYTES:
            table = _decimal_table(buf, nonws, tok_start, n)
        if table is None:
            table = _fast_table(text, n)
    if table is None:
        table = _slow_table(text, counts, line_no, where, issues)
    return _build(table, line_no, text, name, source, where, issues)


def _build(
    vals: npt.NDArray[np.float64],
    line_no: npt.NDArray[np.int64],
    text: bytes,
    name: str,
    source: str | None,
    where: Path | None,
    issues: list[Issue],
) -> Morphology:
    """Check the id/type/parent columns of a parsed ``(n, 7)`` table and build the tree."""
    from patchatlas.core.morphology import Issue, Morphology

    int_cols = vals[:, [0, 1, 6]]
    finite_int = np.isfinite(int_cols)
    if not finite_int.all():
        k = int(np.flatnonzero(~finite_int.all(axis=1))[0])
        raise CorruptFileError(
            where, f"line {int(line_no[k])}: id, type or parent is not a finite number"
        )
    huge = np.abs(int_cols) > 2.0**53
    if huge.any():
        k = int(np.flatnonzero(huge.any(axis=1))[0])
        raise CorruptFileError(
            where, f"line {int(line_no[k])}: id, type or parent is too large to be an id"
        )
    nonint = int_cols != np.round(int_cols)
    if nonint.any():
        k = int(np.flatnonzero(nonint.any(axis=1))[0])
        raise CorruptFileError(
            where,
            f"line {int(line_no[k])}: id, type and parent must be whole numbers",
            "ids written as 1.000000 are fine; 1.5 is not",
        )
    ids = vals[:, 0].astype(np.int64)
    if _float_ids(text):
        issues.append(
            Issue(
                "FLOAT_IDS",
                "info",
                (),
                "ids, types or parents are written as floats (e.g. 1.000000); read as integers",
            )
        )
    try:
        return Morphology.from_arrays(
            ids,
            vals[:, 1].astype(np.int64),
            vals[:, 2:5],
            vals[:, 5],
            vals[:, 6].astype(np.int64),
            name=name,
            source=source,
            lines=line_no,
            issues=issues,
            meta={"format": "swc"},
        )
    except ValidationError as exc:
        raise CorruptFileError(where, str(exc), "fix the parent column") from exc


#: pyarrow's CSV reader options for a clean SWC (built on first use; ``False``: no pyarrow)
_ARROW: tuple[Any, ...] | bool | None = None


def _arrow_options() -> tuple[Any, ...] | None:
    global _ARROW
    if _ARROW is None:
        try:
            import pyarrow as pa
            import pyarrow.csv as pc
        except ImportError:  # optional (patchatlas[morphology]): fall back to numpy / pandas
            _ARROW = False
        else:
            cols = [str(k) for k in range(7)]
            _ARROW = (
                pa,
                pc,
                pc.ReadOptions(column_names=cols, use_threads=False),
                pc.ParseOptions(delimiter=" ", quote_char=False, double_quote=False),
                pc.ConvertOptions(
                    column_types={c: pa.float64() for c in cols},
                    null_values=[],
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
    return _ARROW if isinstance(_ARROW, tuple) else None


def _arrow_table(
    text: bytes, buf: npt.NDArray[np.uint8]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None:
    """Parse a clean SWC (one space between the 7 values, comments already blanked) with
    pyarrow's CSV reader: 2-3x faster than pandas' and correctly rounded (``strtod``).

    Returns ``(values (n, 7), 1-based line numbers)``, or None for anything else (tabs,
    repeated or trailing blanks, other column counts, ``nan``, no pyarrow): the caller then
    uses the general parsers, which also produce the error messages.
    """
    opts = _arrow_options()
    if opts is None or not text:
        return None
    pa, pc, ro, po, co = opts
    try:
        table = pc.read_csv(
            pa.py_buffer(text), read_options=ro, parse_options=po, convert_options=co
        )
    except (pa.ArrowInvalid, ValueError):
        return None
    n = table.num_rows
    if n == 0 or table.num_columns != 7:
        return None
    vals = np.empty((n, 7), dtype=np.float64)
    for k, col in enumerate(table.columns):
        if col.null_count:
            return None
        vals[:, k] = col.to_numpy()
    # data lines are the non-empty lines (pyarrow skips only empty ones, and every other line
    # was a 7-value row, or it would have failed above)
    nl = np.flatnonzero(buf == 10)
    ends = nl if nl.size and nl[-1] == buf.size - 1 else np.append(nl, buf.size)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    line_no = np.flatnonzero(ends > starts) + 1
    if line_no.size != n:
        return None
    return vals, line_no.astype(np.int64)


def _float_ids(text: bytes) -> bool:
    # cheap check on the first data rows: is the id column written with a decimal point?
    for line in text[:8192].splitlines()[:50]:
        tok = line.split()
        if tok:
            return b"." in tok[0]
    return False


#: Files up to this size are parsed by :func:`_decimal_table` (measured crossover with pandas)
_DECIMAL_MAX_BYTES = 128 * 1024
#: exact powers of ten (every 10**k with k <= 22 is a float64 exactly)
_POW10 = 10.0 ** np.arange(23)


def _decimal_table(
    buf: npt.NDArray[np.uint8],
    nonws: npt.NDArray[np.bool_],
    tok_start: npt.NDArray[np.bool_],
    n: int,
) -> npt.NDArray[np.float64] | None:
    """Vectorised parse of plain decimals (``-12.345``), the form of nearly every SWC value.

    A token of at most 15 digits is an exact integer mantissa divided by an exact power of ten,
    so the IEEE division gives the correctly rounded value, bit-identical to ``strtod``.
    Returns None (and the caller falls back to the general parser) for anything else:
    exponents, ``nan``/``inf``, more than 15 digits, stray signs or dots.
    """
    digit = (buf >= 48) & (buf <= 57)
    dot = buf == 46
    sign = (buf == 45) | (buf == 43)
    if bool(np.any(nonws & ~(digit | dot | sign))) or bool(np.any(sign & ~tok_start)):
        return None
    ntok = 7 * n
    # (cumulative sums over int64 copies: numpy's casting cumsum of bools is ~20x slower)
    tok = np.cumsum(tok_start.astype(np.int64)) - 1  # token index of each character
    starts = np.flatnonzero(tok_start)
    if starts.size != ntok:
        return None
    drow = np.flatnonzero(digit)
    dtok = tok[drow]
    ndig = np.bincount(dtok, minlength=ntok)
    if bool(np.any(ndig == 0)) or int(ndig.max()) > 15:
        return None
    dotrow = np.flatnonzero(dot)
    dottok = tok[dotrow]
    if dotrow.size and bool(np.any(np.bincount(dottok, minlength=ntok) > 1)):
        return None
    # rank of each digit inside its token (0-based), then its power of ten
    cd = np.cumsum(digit.astype(np.int64))
    before = cd[starts] - digit[starts]  # digits before each token
    rank = cd[drow] - 1 - before[dtok]
    mant = np.bincount(
        dtok,
        weights=(buf[drow] - 48).astype(np.float64) * _POW10[ndig[dtok] - 1 - rank],
        minlength=ntok,
    )
    frac = np.zeros(ntok, dtype=np.int64)
    frac[dottok] = ndig[dottok] - (cd[dotrow] - before[dottok])
    vals = mant / _POW10[frac]
    neg = buf[starts] == 45
    vals[neg] = -vals[neg]
    return vals.reshape(n, 7)


def _fast_table(text: bytes, n: int) -> npt.NDArray[np.float64] | None:
    """C-speed parse of a clean 7-column table (pandas' C tokenizer); None if it fails."""
    import io

    import pandas as pd

    try:
        df = pd.read_csv(
            io.BytesIO(text),
            sep=r"\s+",
            header=None,
            names=list(range(7)),
            dtype=np.float64,
            engine="c",
        )
    except (ValueError, pd.errors.ParserError):
        return None
    vals = df.to_numpy(dtype=np.float64)
    return vals if vals.shape == (n, 7) else None


def _slow_table(
    text: bytes,
    counts: npt.NDArray[np.int64],
    line_no: npt.NDArray[np.int64],
    where: Path | None,
    issues: list[Issue],
) -> npt.NDArray[np.float64]:
    """Token-by-token parse that ignores extra columns and names the first bad line."""
    from patchatlas.core.morphology import Issue

    tokens = text.split()
    n = counts.size
    if np.any(counts != 7):
        extra = np.flatnonzero(counts > 7)
        issues.append(
            Issue(
                "EXTRA_COLUMNS",
                "warning",
                (),
                f"{extra.size} line(s) have more than 7 columns; the columns after the 7th are "
                "ignored",
                tuple(int(v) for v in line_no[extra[:50]]),
            )
        )
        first_tok = np.concatenate([[0], np.cumsum(counts)[:-1]])
        take = (first_tok[:, None] + np.arange(7)[None, :]).ravel()
        tokens = [tokens[i] for i in take.tolist()]
    try:
        return np.array(list(map(float, tokens)), dtype=np.float64).reshape(n, 7)
    except ValueError:
        pass
    for k in range(n):
        row = tokens[7 * k : 7 * k + 7]
        try:
            [float(t) for t in row]
        except ValueError:
            shown = b" ".join(row).decode(errors="replace")
            raise CorruptFileError(
                where,
                f"line {int(line_no[k])} is not numeric: {shown!r}",
                "an SWC line is 7 numbers: id type x y z radius parent",
            ) from None
    raise CorruptFileError(where, "could not parse the numeric columns")


def read_swc(
    path: str | Path,
    *,
    name: str | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> Morphology:
    """Read an SWC file.

    Parameters
    ----------
    path
        The ``.swc`` file.
    name
        Label for the cell (default: the file stem).
    max_bytes
        Refuse files larger than this before reading them (``None``: no limit).

    Returns
    -------
    Morphology
        Rows in topological order; reading issues in ``morph.issues``.

    Raises
    ------
    patchatlas.errors.ReadError
        Missing, empty, oversize, marker or malformed file; the message names the file and line.
    """
    p = Path(path)
    check_file(p)
    size = p.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise ReadError(
            p,
            f"is {size / 2**20:.0f} MiB, larger than the {max_bytes / 2**20:.0f} MiB limit for one "
            "SWC morphology",
            "pass max_bytes=None (or a larger limit) if this really is one reconstruction",
        )
    with p.open("rb") as fh:
        head = fh.read(4096)
        if _is_marker_file(p, head):
            raise UnsupportedFormatError(
                p,
                "is an Allen marker file (a list of marker points, not a reconstruction)",
                "read the matching *_m.swc file without '_marker' instead",
            )
        data = head + fh.read()
    return parse_swc(data, name=name if name is not None else p.stem, source=str(p))


def write_swc(morph: Morphology, path: str | Path, *, header: str | None = None) -> Path:
    """Write a morphology as SWC (original ids and parents, radius column).

    Parameters
    ----------
    morph
        The morphology.
    path
        Output file.
    header
        Optional comment text written as ``#`` lines first (default: the morphology's label
        and "written by patchatlas").

    Returns
    -------
    Path
        The file written: columns id, type, x, y, z, radius (µm) and parent id.

    Raises
    ------
    patchatlas.errors.WriteError
        The file cannot be written.
    """
    from patchatlas.errors import WriteError

    p = Path(path)
    pid = np.where(morph.parent >= 0, morph.ids[np.maximum(morph.parent, 0)], -1)
    table: npt.NDArray[np.float64] = np.column_stack(
        [morph.ids, morph.types, morph.xyz, morph.radius, pid]
    ).astype(np.float64)
    head = "\n".join(
        f"# {h}" for h in (header or f"{morph.label} (written by patchatlas)").splitlines()
    )
    try:
        np.savetxt(
            p,
            table,
            fmt=["%d", "%d", "%.6f", "%.6f", "%.6f", "%.6f", "%d"],
            header=head,
            comments="",
        )
    except OSError as exc:
        raise WriteError(f"{p}: cannot write the SWC file ({exc})") from exc
    return p


def issues_of(morph: Morphology) -> tuple[Issue, ...]:
    """Reading issues recorded on a morphology."""
    return morph.issues
