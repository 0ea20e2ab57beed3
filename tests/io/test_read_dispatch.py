"""read() dispatch and errors on bad paths."""

from __future__ import annotations

import pytest

import patchatlas
from patchatlas.errors import CorruptFileError, ReadError, UnsupportedFormatError


def test_missing_file(tmp_path):
    with pytest.raises(ReadError, match="no such file"):
        patchatlas.read(tmp_path / "nope.abf")


def test_unknown_extension(tmp_path):
    p = tmp_path / "cell.xyz"
    p.write_text("1 2\n")
    with pytest.raises(UnsupportedFormatError, match=r"\.xyz"):
        patchatlas.read(p)
    with pytest.raises(UnsupportedFormatError, match="unknown format"):
        patchatlas.read(p, format="nonsense")


def test_format_override(tmp_path):
    p = tmp_path / "trace.xyz"
    p.write_text("0 -70\n0.001 -69\n0.002 -68\n")
    rec = patchatlas.read(p, format="text")
    assert rec[0].n_samples == 3 and rec[0].sampling_rate == pytest.approx(1000.0)


@pytest.mark.parametrize("ext", [".abf", ".ibw", ".txt"])
def test_empty_files_are_corrupt(tmp_path, ext):
    p = tmp_path / f"empty{ext}"
    p.write_bytes(b"")
    with pytest.raises(CorruptFileError, match="empty"):
        patchatlas.read(p)


def test_not_an_abf(tmp_path):
    p = tmp_path / "fake.abf"
    p.write_bytes(b"hello world, not an abf")
    with pytest.raises(UnsupportedFormatError, match="not an ABF"):
        patchatlas.read(p)


def test_folder_without_waves(tmp_path):
    with pytest.raises(UnsupportedFormatError, match="folder"):
        patchatlas.read(tmp_path)


def test_text_with_header_and_units(tmp_path):
    p = tmp_path / "trace.csv"
    p.write_text("time (ms),I (nA),V (V)\n0,0,-0.070\n0.1,0.1,-0.069\n0.2,0.1,-0.068\n")
    s = patchatlas.read(p)[0]
    assert s.sampling_rate == pytest.approx(10_000.0)
    assert s.v[0] == pytest.approx(-70.0) and s.i is not None and s.i[1] == pytest.approx(100.0)
    assert s.metadata["inferred_units"] == []


def test_text_bad_content(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("0 -70\n0.001 abc\n")
    with pytest.raises(CorruptFileError):
        patchatlas.read(p)
    p.write_text("0 -70\n")
    with pytest.raises(CorruptFileError, match="at least 2"):
        patchatlas.read(p)
    p.write_text("0.002 -70\n0.001 -70\n0.0 -70\n")
    with pytest.raises(CorruptFileError, match="decrease"):
        patchatlas.read(p)
