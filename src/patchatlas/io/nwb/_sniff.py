"""Which NWB layout a file has: HDF5 signature, damaged global heaps, NWB version."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from patchatlas.errors import CorruptFileError, UnsupportedFormatError
from patchatlas.io._common import check_file, wrap_errors
from patchatlas.io.nwb._series import decode_text

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _is_hdf5(path: Path) -> bool:
    # HDF5 allows a user block of 0, 512, 1024, 2048 ... bytes before the superblock.
    with path.open("rb") as fh:
        offset = 0
        size = os.path.getsize(path)
        while offset < min(size, 1 << 20):
            fh.seek(offset)
            if fh.read(8) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


def _check_global_heaps(path: Path) -> None:
    """Walk every HDF5 global heap collection ("GCOL") and reject damaged ones.

    Variable-length strings live in global heap collections. A damaged object size in one of
    them makes the HDF5 library loop forever when it parses the collection, in C code that no
    Python timeout can interrupt; checking the collections first turns that into an error. A
    collection is a 16-byte header (signature, version 1, 3 reserved bytes, 8-byte size) and
    objects of a 16-byte header (2-byte index, 2-byte reference count, 4 reserved bytes, 8-byte
    size) plus data padded to 8 bytes; index 0 is the free space that ends it.
    """
    import mmap
    import struct

    size = os.path.getsize(path)
    obj_header = struct.Struct("<HHIQ").unpack_from
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        pos = mm.find(b"GCOL\x01\x00\x00\x00")
        while pos >= 0:
            if pos + 16 <= size:
                (coll,) = struct.unpack_from("<Q", mm, pos + 8)
                if 4096 <= coll <= size - pos:
                    end = pos + coll
                    o = pos + 16
                    while o + 16 <= end:
                        idx, _, _, osz = obj_header(mm, o)
                        if idx == 0:
                            # the free-space object spans the rest of the collection
                            step = osz if osz == end - o else end + 1 - o
                        else:
                            step = 16 + (osz + 7) // 8 * 8
                        if o + step > end:
                            raise CorruptFileError(
                                path,
                                f"HDF5 global heap at byte {pos} is damaged (object {idx} of "
                                f"{osz} bytes does not fit the collection)",
                                "the file is damaged; re-copy or re-export it",
                            )
                        o += step
            pos = mm.find(b"GCOL\x01\x00\x00\x00", pos + 4)


def sniff_nwb(path: str | os.PathLike[str]) -> tuple[str, str]:
    """Tell which NWB layout a file has.

    Parameters
    ----------
    path
        The file to inspect (only its signature and root attributes are read).

    Returns
    -------
    version, layout
        The NWB version string (``"2.4.0"``, ``"NWB-1.0.5"``) and one of ``"nwb2"``,
        ``"nwb1-allen"``, ``"nwb1-mies"`` (NWB 2 files are split into table / legacy layouts only
        when read, since that needs pynwb).

    Raises
    ------
    patchatlas.errors.UnsupportedFormatError
        Not an HDF5 file, or HDF5 but not NWB.
    """
    p = Path(path)
    check_file(p)
    if not _is_hdf5(p):
        raise UnsupportedFormatError(
            p, "is not an HDF5 file (no HDF5 signature)", "NWB files are HDF5; check the file"
        )
    import h5py

    _check_global_heaps(p)
    with wrap_errors(p, "an HDF5/NWB file"), h5py.File(p, "r") as h5:
        return _sniff_open(h5, p)


def _sniff_open(h5: Any, path: Path) -> tuple[str, str]:
    if "nwb_version" in h5.attrs:
        version = decode_text(h5.attrs["nwb_version"])
        if version.removeprefix("NWB-").startswith("2"):
            return version, "nwb2"
    version = decode_text(h5["nwb_version"][()]) if "nwb_version" in h5 else ""
    ts = h5.get("acquisition/timeseries")
    if version.removeprefix("NWB-").startswith("1") or ts is not None:
        names = list(ts.keys()) if ts is not None else []
        epochs = list(h5["epochs"].keys()) if "epochs" in h5 else []
        if any(re.fullmatch(r"Sweep_\d+", n) for n in names + epochs):
            return version or "1", "nwb1-allen"
        return version or "1", "nwb1-mies"
    raise UnsupportedFormatError(
        path,
        "is an HDF5 file but not NWB (no nwb_version attribute or dataset)",
        "patchatlas reads NWB 1 and NWB 2 intracellular files",
    )
