"""SWC / ASC reading: quirks, refusals, bad input."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import patchatlas
from patchatlas import read
from patchatlas.errors import CorruptFileError, ReadError, UnsupportedFormatError
from patchatlas.io.swc import parse_swc, read_swc, write_swc
from patchatlas.morphology import Morphology

SIMPLE = b"""# simple
 1 1  0  0 0 1. -1
 2 3  0  0 0 1.  1
 3 3  0  5 0 1.  2
 4 3 -5  5 0 0.  3
 5 3  6  5 0 0.  3
 6 2  0  0 0 1.  1
 7 2  0 -4 0 1.  6
 8 2  6 -4 0 0.  7
 9 2 -5 -4 0 0.  7
"""


def test_read_dispatch_and_topological_order(edge: Path) -> None:
    m = patchatlas.read(edge / "simple.swc")
    assert isinstance(m, Morphology)
    assert len(m) == 9
    assert np.all(m.parent < np.arange(len(m)))
    m2 = read(edge / "simple.swc")
    assert np.array_equal(m.xyz, m2.xyz)


def test_quirks_tabs_floats_comments_crlf_unsorted() -> None:
    lines = SIMPLE.decode().strip().splitlines()[1:]
    rows = [ln.split() for ln in lines]
    # floats for ids, tabs, CRLF, trailing comments, reversed order
    text = "# header\r\n" + "\r\n".join(
        "\t".join([f"{float(r[0]):.6f}", f"{float(r[1]):.6f}", *r[2:6], f"{float(r[6]):.6f}"])
        + "  # trailing"
        for r in reversed(rows)
    )
    m = parse_swc(text.encode())
    ref = parse_swc(SIMPLE)
    order = np.argsort(m.ids)
    assert np.array_equal(m.ids[order], ref.ids)
    assert np.allclose(m.xyz[order], ref.xyz)
    assert np.all(m.parent < np.arange(len(m)))
    codes = {i.code for i in m.issues}
    assert "UNSORTED" in codes and "FLOAT_IDS" in codes
    # line numbers point into the original file (header is line 1)
    assert m.lines is not None
    assert int(m.lines[m.ids == 9][0]) == 2


def test_extra_columns_and_custom_types() -> None:
    text = b"1 1 0 0 0 1 -1 extra\n2 0 0 1 0 1 1\n3 7 0 2 0 1 2\n"
    m = parse_swc(text)
    assert list(m.types) == [1, 0, 7]
    assert "EXTRA_COLUMNS" in {i.code for i in m.issues}


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty"),
        (b"# only a comment\n\n", "no data lines"),
        (b"1 1 0 0 0 1\n", "needs 7"),
        (b"1 1 0 0 zero 1 -1\n", "not numeric"),
        (b"1.5 1 0 0 0 1 -1\n", "whole numbers"),
        (b"1 1 0 0 0 1 2\n2 3 0 0 0 1 1\n", "cycle"),
        (b"1 1 0 0 0 1 1\n", "own parent"),
        (b"\x00\x01\x02binary", "NUL"),
    ],
)
def test_bad_input_clear_errors(tmp_path: Path, content: bytes, match: str) -> None:
    f = tmp_path / "bad.swc"
    f.write_bytes(content)
    with pytest.raises(ReadError, match=match) as info:
        read_swc(f)
    assert "bad.swc" in str(info.value)


def test_long_cycle_does_not_hang() -> None:
    n = 200_000
    ids = np.arange(1, n + 1)
    par = np.roll(ids, 1)  # one big cycle
    text = "\n".join(f"{i} 3 {i} 0 0 1 {p}" for i, p in zip(ids, par, strict=True)).encode()
    t0 = time.perf_counter()
    with pytest.raises(CorruptFileError, match="cycle"):
        parse_swc(text)
    assert time.perf_counter() - t0 < 60  # generous: it must terminate, not be fast


def test_nan_coordinates_are_reported_not_dropped() -> None:
    m = parse_swc(b"1 1 0 0 0 1 -1\n2 3 nan 0 0 1 1\n3 3 0 2 0 1 2\n")
    assert len(m) == 3
    from patchatlas.morphology import validate

    rep = validate(m, profile="lenient")
    assert "NON_FINITE" in rep.codes
    fixed = validate(m, profile="analysis", repair=True)
    assert len(fixed.morphology) == 1 and fixed.repairs


def test_oversize_file_refused_before_reading(tmp_path: Path) -> None:
    f = tmp_path / "huge.swc"
    with f.open("wb") as fh:  # sparse 600 MB file: nothing is read
        fh.truncate(600 * 2**20)
    with pytest.raises(ReadError, match="limit"):
        read_swc(f)


def test_marker_files_refused(morph_data: Path) -> None:
    markers = sorted((morph_data / "allen_swc").glob("*_marker_m.swc"))
    assert markers
    for f in markers:
        with pytest.raises(UnsupportedFormatError, match="marker"):
            patchatlas.read(f)


def test_all_real_swc_parse(morph_data: Path) -> None:
    files = [f for f in morph_data.rglob("*.swc") if "marker" not in f.name]
    assert len(files) >= 25
    for f in files:
        m = read(f)
        assert len(m) > 0
        assert np.all(m.parent < np.arange(len(m)))
        assert np.isfinite(m.xyz).all()


def test_unsorted_many_roots(morph_data: Path) -> None:
    m = read(morph_data / "neuron_morphology_tests" / "17545-6151-X24259-Y36270.swc")
    assert len(m) == 3397
    assert int((m.types == 1).sum()) == 11
    assert "UNSORTED" in {i.code for i in m.issues}
    assert int((m.parent < 0).sum()) == 289


def test_axon_from_dendrite_is_kept(morph_data: Path) -> None:
    f = morph_data / "neuron_morphology_tests"
    m = read(f / "Ctgf-2A-dgCre-D_Ai14_BT_-245170.06.06.01_539748835_m_pia.swc")
    axon = m.types == 2
    assert int(axon.sum()) == 12  # MorphIO (permissive) absorbs these into a basal section
    first = np.flatnonzero(axon & (m.types[np.maximum(m.parent, 0)] != 2))
    assert first.size == 1
    assert m.types[m.parent[first[0]]] == 3  # the axon leaves a dendrite


def test_swc_roundtrip(tmp_path: Path, edge: Path) -> None:
    m = read(edge / "Neuron.swc")
    out = write_swc(m, tmp_path / "n.swc")
    m2 = read(out)
    assert np.array_equal(m.ids, m2.ids)
    assert np.array_equal(m.parent, m2.parent)
    assert np.allclose(m.xyz, m2.xyz, atol=1e-6)


def test_asc_reader(edge: Path) -> None:
    m = patchatlas.read(edge / "bio_neuron-000.asc")
    assert isinstance(m, Morphology)
    assert m.soma_contour is not None and len(m.soma_contour) == 14
    assert int((m.types == 2).sum()) > 0 and int((m.types == 3).sum()) > 0
    roots = np.flatnonzero(m.parent == m.root)
    assert roots.size == m.meta["n_neurites"] == 7
    # diameters halved
    assert float(m.radius[roots[0]]) == pytest.approx(0.55 / 2) or m.radius.max() < 10


def test_asc_truncated(tmp_path: Path) -> None:
    f = tmp_path / "t.asc"
    f.write_text(
        '("CellBody" (CellBody) (0 0 0 1) (1 0 0 1) (0 1 0 1)\n( (Axon) (0 0 0 1) (0 5 0 1)'
    )
    with pytest.raises(CorruptFileError, match="open"):
        patchatlas.read(f)


def test_fuzzed_input_only_raises_patchatlas_errors() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from patchatlas.errors import PatchAtlasError

    line = st.lists(
        st.one_of(
            st.integers(-3, 12).map(str),
            st.floats(allow_nan=True, allow_infinity=True).map(repr),
            st.sampled_from(["#", "x", "1.000000", "-1", ",", "\t"]),
        ),
        min_size=0,
        max_size=9,
    ).map(" ".join)

    @settings(max_examples=300, deadline=None)
    @given(st.lists(line, max_size=30))
    def check(lines: list[str]) -> None:
        try:
            m = parse_swc("\n".join(lines).encode())
        except PatchAtlasError:
            return
        assert np.all(m.parent < np.arange(len(m)))
        from patchatlas.morphology import features, validate

        validate(m, profile="lenient")
        features(m, convention="allen")

    check()


def test_decimal_fast_path_is_bit_identical_to_strtod() -> None:
    # random plain decimals of 1-15 digits, signs, leading/trailing dots: the vectorised
    # parser must give exactly float(token) for each
    from patchatlas.io.swc import _decimal_table

    rng = np.random.default_rng(4)
    toks: list[str] = []
    for _ in range(7 * 400):
        nd = int(rng.integers(1, 16))
        digits = "".join(str(d) for d in rng.integers(0, 10, nd))
        cut = int(rng.integers(0, nd + 1))
        tok = digits[:cut] + "." + digits[cut:] if rng.random() < 0.8 else digits
        toks.append(str(rng.choice(["", "-", "+"])) + tok)
    text = "\n".join(" ".join(toks[7 * k : 7 * k + 7]) for k in range(400)).encode()
    buf = np.frombuffer(text, dtype=np.uint8)
    nonws = buf > 32
    start = nonws.copy()
    start[1:] &= ~nonws[:-1]
    got = _decimal_table(buf, nonws, start, 400)
    assert got is not None
    want = np.array([float(t) for t in toks]).reshape(400, 7)
    assert np.array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize(
    "token", [b"1e3", b"nan", b"1.2345678901234567", b"1.2.3", b"-", b"5-3", b"inf"]
)
def test_decimal_fast_path_declines_other_numbers(token: bytes) -> None:
    from patchatlas.io.swc import _decimal_table

    text = b"1 1 0 0 0 1 -1\n2 3 " + token + b" 0 0 1 1\n"
    buf = np.frombuffer(text, dtype=np.uint8)
    nonws = buf > 32
    start = nonws.copy()
    start[1:] &= ~nonws[:-1]
    assert _decimal_table(buf, nonws, start, 2) is None


def test_exponent_and_long_decimals_still_read_exactly() -> None:
    m = parse_swc(b"1 1 1.5e1 0.1234567890123456789 -2 1 -1\n2 3 1 2 3 0.5 1\n")
    assert m.xyz[0, 0] == 15.0
    assert m.xyz[0, 1] == pytest.approx(0.1234567890123456789, rel=1e-15)


def _general_parse(monkeypatch: pytest.MonkeyPatch, data: bytes) -> Morphology:
    """parse_swc with the pyarrow fast path switched off (numpy / pandas parsers)."""
    from patchatlas.io import swc

    with monkeypatch.context() as mp:
        mp.setattr(swc, "_ARROW", False)
        return parse_swc(data)


def test_arrow_fast_path_is_correctly_rounded_and_keeps_line_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 17-digit decimals and exponents (what upright/layer-aligned Allen files hold): every
    # value must be exactly float(token), i.e. strtod; comments and blank lines keep the
    # 1-based line numbers of the data rows
    pytest.importorskip("pyarrow")
    from patchatlas.io import swc

    rng = np.random.default_rng(7)
    vals = rng.normal(0, 500, size=(300, 4))
    rows = [b"# header, with commas", b""]
    for k in range(300):
        x = " ".join(repr(float(v)) for v in vals[k, :3])
        rows.append(f"{k + 1} {3 if k else 1} {x} {abs(vals[k, 3]):.3e} {k if k else -1}".encode())
        if k == 150:
            rows += [b"# mid-file comment", b""]
    data = b"\n".join(rows) + b"\n"
    clean = b"\n".join(r for r in rows[2:] if r[:1] != b"#")
    assert swc._arrow_table(clean, np.frombuffer(clean, dtype=np.uint8)) is not None  # fast path
    m = parse_swc(data)
    want = np.array([[float(t) for t in r.split()[2:6]] for r in rows if r and r[:1] != b"#"])
    assert np.array_equal(m.xyz, want[:, :3])
    assert np.array_equal(m.radius, want[:, 3])
    slow = _general_parse(monkeypatch, data)
    assert np.array_equal(m.lines, slow.lines)  # type: ignore[arg-type]
    assert m.lines is not None and m.lines[0] == 3 and m.lines[151] == 156
    assert np.array_equal(m.parent, slow.parent)


@pytest.mark.parametrize(
    "data",
    [
        SIMPLE,  # leading and repeated blanks
        b"1\t1\t0\t0\t0\t1\t-1\n2\t3\t0\t1\t0\t1\t1\n",  # tabs
        b"1 1 0 0 0 1 -1 # soma\n2 3 0 1 0 1 1\n",  # comment after the values
        b"1 1 0 0 0 1 -1 9\n2 3 0 1 0 1 1 9\n",  # extra column
        b"1 1 nan 0 0 1 -1\n2 3 0 1 0 1 1\n",
        b"1.000000 1 0 0 0 1 -1.000000\n2.000000 3 0 1 0 1 1.000000\n",
    ],
)
def test_arrow_fast_path_agrees_with_the_general_parsers(
    monkeypatch: pytest.MonkeyPatch, data: bytes
) -> None:
    fast = parse_swc(data)
    slow = _general_parse(monkeypatch, data)
    for a in ("ids", "types", "parent", "lines"):
        assert np.array_equal(getattr(fast, a), getattr(slow, a))
    assert np.array_equal(fast.xyz, slow.xyz, equal_nan=True)
    assert [str(i) for i in fast.issues] == [str(i) for i in slow.issues]


def test_sequential_ids_shortcut_matches_the_general_id_mapping() -> None:
    # ids 1..n with earlier parents take a shortcut in Morphology.from_arrays; the same tree
    # with ids doubled (not consecutive) goes through the general mapping: same rows and parents
    rng = np.random.default_rng(3)
    n = 500
    ids = np.arange(1, n + 1)
    par = np.array([-1] + [int(rng.integers(1, k + 1)) for k in range(1, n)])
    xyz = rng.normal(size=(n, 3))
    fast = Morphology.from_arrays(ids, np.full(n, 3), xyz, np.ones(n), par)
    slow = Morphology.from_arrays(
        2 * ids, np.full(n, 3), xyz, np.ones(n), np.where(par > 0, 2 * par, -1)
    )
    assert np.array_equal(fast.parent, slow.parent)
    assert fast.issues == slow.issues == ()
    # a parent id that is not in the file still becomes an issue (general path)
    bad = par.copy()
    bad[7] = n + 5
    m = Morphology.from_arrays(ids, np.full(n, 3), xyz, np.ones(n), bad)
    assert [i.code for i in m.issues] == ["MISSING_PARENT"] and m.parent[7] == -1
