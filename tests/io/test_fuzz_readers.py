"""Fuzz every reader with truncated and bit-flipped copies of real files (hypothesis).

Contract: a damaged file either reads or raises a :class:`patchatlas.errors.ReadError` that names
the file; no other exception may escape, and no read may hang or exhaust memory.

* Examples are derandomised (the same damaged files on every run) and written to ``tmp_path``.
* Each example is armed with a watchdog (``faulthandler.dump_traceback_later``): a read that hangs
  (e.g. inside libhdf5) kills the run with a traceback instead of blocking CI.
* The address space is capped for this module (``RLIMIT_AS``), so a damaged header that asks for
  a huge allocation raises ``MemoryError`` (which readers must wrap) instead of swapping the
  machine.
* Example counts keep the whole module around a minute on a 2-core machine.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import random
import resource
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import patchatlas
from patchatlas.errors import PatchAtlasError, ReadError

WATCHDOG_S = 60.0
ADDRESS_SPACE = 8 << 30

# A mutation is a kind and a seed: positions are drawn uniformly from the seed, so damage lands
# anywhere in the file (hypothesis' own integers and floats cluster near 0, i.e. the signature).
MUTATIONS = st.tuples(
    st.sampled_from(["truncate", "flip", "header", "mixed"]), st.integers(0, 2**32 - 1)
)


def _mutate(data: bytes, kind: str, seed: int) -> bytes:
    """Truncate, flip 1-8 bits anywhere, overwrite 1-4 header bytes, or flip and overwrite."""
    rng = random.Random(seed)
    b = bytearray(data)
    if not b:
        return bytes(b)
    if kind == "truncate":
        return bytes(b[: rng.randrange(len(b))])
    if kind in ("flip", "mixed"):
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    if kind in ("header", "mixed"):
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(min(len(b), 4096))] = rng.randrange(256)
    return bytes(b)


@pytest.fixture(scope="module", autouse=True)
def _guards() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = ADDRESS_SPACE if hard == resource.RLIM_INFINITY else min(ADDRESS_SPACE, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        logging.disable(logging.NOTSET)


def _check(path: Path, data: bytes, **kwargs: object) -> None:
    path.write_bytes(data)
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            patchatlas.read(path, **kwargs)
    except ReadError as exc:
        assert exc.path is not None, f"error does not name the file: {exc}"
        assert path.name in str(exc)
    except PatchAtlasError as exc:  # pragma: no cover - a failure to report
        pytest.fail(f"{type(exc).__name__} without the file name escaped: {exc}")
    finally:
        faulthandler.cancel_dump_traceback_later()


def _fuzz(n: int):  # type: ignore[no-untyped-def]
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


CASES = [
    # (reader, file under ../shared/data/ephys, examples)
    ("abf", "abf_pyabf/17o05027_ic_ramp.abf", 60),
    ("abf", "abf_pyabf/190619B_0003.abf", 40),  # ABF 1
    ("abf", "abf_pyabf/File_axon_5.abf", 40),
    ("igor", "ibw_bluepyefe/B95_Ch3_IDRest_107.ibw", 60),
    ("text", "text_efel/current.txt", 40),
    ("text", "text_allensdk/spike_test_var_dt.txt", 40),
    ("nwb1-mies", "nwb_mies/Sst-IRES-CreAi14-395722.01.01.01.nwb", 50),
    ("nwb2-legacy", "nwb_mies/valid_v2_MIES-NWBv2-0655f7e4.nwb", 20),
    ("nwb2", "nwb/bluepyefe_hippocampus-portal_99111002.nwb", 12),
]


@pytest.mark.slow
@pytest.mark.parametrize(("reader", "name", "examples"), CASES, ids=[c[1] for c in CASES])
def test_damaged_real_files(
    reader: str, name: str, examples: int, ephys_data: Path, tmp_path: Path
) -> None:
    src = ephys_data / name
    data = src.read_bytes()
    target = tmp_path / src.name
    if reader == "igor":
        # keep the intact current wave beside the damaged voltage wave, so pairing runs too
        partner = src.with_name(src.name.replace("_Ch3_", "_Ch0_"))
        (tmp_path / partner.name).write_bytes(partner.read_bytes())

    @_fuzz(examples)
    @given(muts=MUTATIONS)
    def run(muts: tuple[str, int]) -> None:
        _check(target, _mutate(data, *muts))

    run()


# The real files from other labs (../shared/data/*/robustness): damaged, they still read or
# raise a ReadError naming the file (few examples each: the folder's classes, not its bytes)
ROBUST = [
    ("ephys/robustness/18425108_abf1.abf", 8),
    ("ephys/robustness/18807005.abf", 6),
    ("ephys/robustness/130618-1-12.abf", 6),
    ("ephys/robustness/2018-11-25 abf1 de novo.abf", 4),
    ("ephys/robustness/2018_12_09_pCLAMP11_0001.abf", 6),
    ("ephys/robustness/2020_06_16_0000.abf", 8),
    ("ephys/robustness/File_axon_3.abf", 6),
    ("ephys/robustness/invalidDate-abf1.abf", 6),
    ("ephys/robustness/opto_aps_bad_units.abf", 4),
    ("ephys/robustness/171116sh_0015.abf", 6),  # read with its intact ATF beside it
    ("ephys/robustness/2018_03_20_0005.nwb", 6),
    ("ephys/robustness/mean_frequency_1.txt", 6),
    ("morphology/robustness/multifurcation.asc", 15),
    ("morphology/robustness/sample.asc", 15),
    ("morphology/robustness/spine.asc", 15),
    ("morphology/robustness/Neuron_h5v1.h5", 10),
    ("morphology/robustness/Neuron_h5v2.h5", 10),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "examples"), ROBUST, ids=[r[0] for r in ROBUST])
def test_damaged_robustness_files(
    name: str, examples: int, shared_data: Path, tmp_path: Path
) -> None:
    src = shared_data / name
    data = src.read_bytes()
    target = tmp_path / src.name
    for atf in src.parent.glob("*.atf"):  # stimulus files stay beside their ABF
        (tmp_path / atf.name).write_bytes(atf.read_bytes())

    @_fuzz(examples)
    @given(muts=MUTATIONS)
    def run(muts: tuple[str, int]) -> None:
        _check(target, _mutate(data, *muts))

    run()


@pytest.mark.slow
def test_damaged_stimulus_file(shared_data: Path, tmp_path: Path) -> None:
    """A damaged ATF stimulus file beside an intact ABF: the error names the ABF read."""
    src = shared_data / "ephys/robustness/171116sh_0015.abf"
    atf = shared_data / "ephys/robustness/sine sweep magnitude 20.atf"
    abf = tmp_path / src.name
    abf.write_bytes(src.read_bytes())
    data = atf.read_bytes()

    @_fuzz(12)
    @given(muts=MUTATIONS)
    def run(muts: tuple[str, int]) -> None:
        (tmp_path / atf.name).write_bytes(_mutate(data, *muts))
        faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                patchatlas.read(abf)
        except ReadError as exc:
            assert exc.path == abf and abf.name in str(exc)
        finally:
            faulthandler.cancel_dump_traceback_later()

    run()


@pytest.mark.slow
def test_damaged_allen_nwb1(ephys_data: Path, tmp_path: Path) -> None:
    """The Allen NWB 1 layout (written from real traces, see allen_nwb1.py), damaged, read
    eagerly and lazily (memory-mapped traces)."""
    from allen_nwb1 import allen_sweeps, write_allen_nwb1

    sweeps = [s for s in allen_sweeps(ephys_data) if not s.voltage_clamp][:3]
    data = write_allen_nwb1(tmp_path / "allen.nwb", sweeps).read_bytes()
    target = tmp_path / "damaged.nwb"

    @_fuzz(40)
    @given(muts=MUTATIONS, lazy=st.booleans())
    def run(muts: tuple[str, int], lazy: bool) -> None:
        # uncompressed traces: lazy=True maps them, which must not crash on damaged files
        _check(target, _mutate(data, *muts), lazy=lazy)

    run()


@pytest.mark.slow
def test_damaged_igor_folder(ephys_data: Path, tmp_path: Path) -> None:
    """A folder of waves (read_igor_folder) with one damaged wave among intact ones."""
    src = ephys_data / "ibw_bluepyefe/B6"
    waves = sorted(src.glob("*_18[12].ibw"))
    for w in waves:
        (tmp_path / w.name).write_bytes(w.read_bytes())
    victim = tmp_path / waves[-1].name
    data = waves[-1].read_bytes()

    @_fuzz(20)
    @given(muts=MUTATIONS)
    def run(muts: tuple[str, int]) -> None:
        victim.write_bytes(_mutate(data, *muts))
        faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
        try:
            patchatlas.read(tmp_path)
        except ReadError as exc:
            assert exc.path is not None
        finally:
            faulthandler.cancel_dump_traceback_later()

    run()


def test_mutation_changes_the_file() -> None:
    data = bytes(range(256)) * 64
    for kind in ("truncate", "flip", "header", "mixed"):
        out = _mutate(data, kind, 12345)
        assert out != data
        assert out == _mutate(data, kind, 12345)  # deterministic
    assert len(_mutate(data, "truncate", 1)) < len(data)
    assert _mutate(data, "header", 7)[4096:] == data[4096:]


def test_empty_files_all_readers(tmp_path: Path) -> None:
    for ext in (".abf", ".ibw", ".txt", ".nwb"):
        p = tmp_path / f"empty{ext}"
        p.write_bytes(b"")
        with pytest.raises(ReadError, match="empty"):
            patchatlas.read(p)


def test_wrong_content_all_readers(tmp_path: Path) -> None:
    junk = os.urandom(5000)
    for ext in (".abf", ".ibw", ".txt", ".nwb"):
        p = tmp_path / f"junk{ext}"
        p.write_bytes(junk)
        with pytest.raises(ReadError) as info:
            patchatlas.read(p)
        assert p.name in str(info.value)
