"""Write protection for the portal: bearer tokens, upload checks and atomic, confined writes.

- Writes need ``Authorization: Bearer <token>`` where the token is the content of the
  ``--token-file``; without a token file the portal is read-only (every write → 403).
- Uploads land under ``<data_dir>/uploads/`` only: the client's file name is reduced to a safe
  base name (no folders, no dot-files, limited characters), the target is resolved and checked to
  lie inside the folder, the body is streamed to a temporary file in the same folder with a size
  limit and renamed into place (atomic; a partial upload never appears).
- The extension must be an accepted one and the first bytes must match it (HDF5 signature for
  ``.nwb``/``.h5ad``, ``ABF`` for ``.abf``, UTF-8 text for ``.swc``/``.csv``/``.txt`` …).
"""

from __future__ import annotations

import hmac
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from patchatlas.errors import PatchAtlasError

__all__ = [
    "ALLOWED_EXTENSIONS",
    "UploadRejected",
    "check_token",
    "load_token",
    "safe_filename",
    "save_upload",
]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
TEXT_EXTENSIONS = frozenset({".swc", ".asc", ".csv", ".tsv", ".txt", ".yaml", ".yml", ".json"})
ALLOWED_EXTENSIONS: frozenset[str] = frozenset({".abf", ".nwb", ".ibw", ".h5ad"} | TEXT_EXTENSIONS)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UploadRejected(PatchAtlasError):
    """An upload is refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def load_token(path: str | os.PathLike[str] | None) -> str | None:
    """The write token stored in ``path`` (stripped), or None for a read-only portal.

    Parameters
    ----------
    path
        The token file (UTF-8 text; surrounding white space is ignored), or None for no token.

    Returns
    -------
    str or None
        The token; None when ``path`` is None (writes disabled).

    Raises
    ------
    PatchAtlasError
        The file is missing, empty or shorter than 16 characters.
    """
    if path is None:
        return None
    p = Path(path)
    try:
        token = p.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise PatchAtlasError(f"token file {p}: cannot be read ({exc}); create it first") from exc
    if len(token) < 16:
        raise PatchAtlasError(
            f"token file {p}: the token is shorter than 16 characters; write a long random one "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))' > FILE`)"
        )
    return token


def check_token(expected: str | None, authorization: str | None) -> int | None:
    """None when the request may write, else the HTTP status to refuse it with (403: writes
    disabled, 401: missing or wrong token).

    Parameters
    ----------
    expected
        The portal's write token (:func:`load_token`); None on a read-only portal.
    authorization
        The request's ``Authorization`` header, ``"Bearer <token>"`` (scheme case-insensitive),
        or None when absent. The token is compared in constant time.

    Returns
    -------
    int or None
        None when the token matches; 403 when ``expected`` is None; 401 when the header is
        missing, not a bearer token, or carries a different token.
    """
    if expected is None:
        return 403
    if not authorization or not authorization.lower().startswith("bearer "):
        return 401
    given = authorization[7:].strip()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return 401
    return None


def safe_filename(name: str) -> str:
    """A file name with no folder parts, no leading dots and only ``[A-Za-z0-9._-]``.

    Parameters
    ----------
    name
        The file name the client sent.

    Returns
    -------
    str
        The name with each run of other characters replaced by ``_`` and leading dots removed,
        cut to 200 characters; its extension is one of :data:`ALLOWED_EXTENSIONS`.

    Raises
    ------
    UploadRejected
        Nothing usable is left, the name tries to leave the folder, or its extension is not
        accepted.
    """
    raw = str(name or "")
    if "/" in raw or "\\" in raw or "\x00" in raw or raw in ("", ".", ".."):
        raise UploadRejected(
            f"upload file name {raw!r} is not a plain file name; send a name without folders"
        )
    base = _SAFE.sub("_", raw).lstrip(".")
    if not base or base.strip("._-") == "":
        raise UploadRejected(f"upload file name {raw!r} has no usable characters")
    ext = Path(base).suffix.lower()
    if ext not in ALLOWED_EXTENSIONS:
        raise UploadRejected(
            f"upload {raw!r}: file type {ext or '(none)'!r} is not accepted; send one of "
            f"{', '.join(sorted(ALLOWED_EXTENSIONS))}",
            status=415,
        )
    return base[:200]


def _check_magic(name: str, head: bytes) -> None:
    ext = Path(name).suffix.lower()
    ok = True
    if ext in (".nwb", ".h5ad"):
        ok = head.startswith(HDF5_MAGIC)
    elif ext == ".abf":
        ok = head[:4] in (b"ABF ", b"ABF2")
    elif ext in TEXT_EXTENSIONS:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # a multi-byte character cut at the end of the sniffed block is fine
            ok = exc.start >= len(head) - 3
        ok = ok and b"\x00" not in head
    if not ok:
        raise UploadRejected(
            f"upload {name!r}: its content does not look like a {ext} file; check the file",
            status=415,
        )


async def save_upload(
    chunks: AsyncIterator[bytes],
    filename: str,
    folder: str | os.PathLike[str],
    *,
    max_bytes: int,
    overwrite: bool = False,
) -> Path:
    """Stream ``chunks`` into ``folder/filename`` atomically, with a size limit.

    The chunks go to a temporary file in ``folder``, which is synced, checked (not empty; its
    first bytes match the extension) and renamed onto the target; it is removed on any error.

    Parameters
    ----------
    chunks
        The request body, as an async iterator of byte chunks.
    filename
        The client's file name, made safe with :func:`safe_filename`.
    folder
        The upload folder (created if missing); the file is never written outside it.
    max_bytes
        Largest accepted upload size (bytes).
    overwrite
        Replace a file of the same name instead of refusing the upload (409).

    Returns
    -------
    Path
        The written file (inside ``folder``).

    Raises
    ------
    UploadRejected
        Bad name or type (400/415), too large (413), already present (409).
    """
    name = safe_filename(filename)
    root = Path(folder).resolve()
    root.mkdir(parents=True, exist_ok=True)
    target = (root / name).resolve()
    if target.parent != root:
        raise UploadRejected(f"upload {filename!r} would be written outside the upload folder")
    if target.exists() and not overwrite:
        raise UploadRejected(f"upload {name!r} exists already; rename the file", status=409)
    fd, tmp_name = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=root)
    tmp = Path(tmp_name)
    size = 0
    head = b""
    try:
        with os.fdopen(fd, "wb") as fh:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise UploadRejected(
                        f"upload {name!r} is larger than the limit of {max_bytes} bytes",
                        status=413,
                    )
                if len(head) < 4096:
                    head += chunk[: 4096 - len(head)]
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        if size == 0:
            raise UploadRejected(f"upload {name!r} is empty")
        _check_magic(name, head)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
