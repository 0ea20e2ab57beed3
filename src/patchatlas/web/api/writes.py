"""Writes (token needed): annotations of cells and file uploads (optionally ingested)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, HTTPException, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from patchatlas.atlas import portal as Q
from patchatlas.web.api._common import WRITE_ERRORS, Portal, cell_name, dumps, json_response

__all__ = ["AnnotationIn", "require_token", "router"]

router = APIRouter()


class AnnotationIn(BaseModel):
    """A free-text annotation of a cell."""

    key: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\- ]+$")
    value: str = Field(max_length=10_000)


def require_token(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    """Refuse writes without the portal's token (401) or on a read-only portal (403).

    A FastAPI dependency of every write route.

    Parameters
    ----------
    request
        The request; its app's ``state.settings.token`` is the expected token.
    authorization
        The ``Authorization`` header (``"Bearer <token>"``), None when absent.

    Raises
    ------
    fastapi.HTTPException
        403 on a read-only portal (no token file); 401, with ``WWW-Authenticate: Bearer``, when
        the token is missing or wrong.
    """
    from patchatlas.web.security import check_token

    status = check_token(request.app.state.settings.token, authorization)
    if status == 403:
        raise HTTPException(403, "this portal is read-only; start it with --token-file to write")
    if status == 401:
        raise HTTPException(
            401,
            "writing needs the portal's token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


Writer = Annotated[None, Depends(require_token)]


@router.post("/annotations/{cell_id:path}", tags=["writes"], responses=WRITE_ERRORS)
def add_annotation(
    request: Request, p: Portal, _w: Writer, cell_id: str, body: AnnotationIn
) -> Response:
    """Set an annotation ``key = value`` on a cell (token needed)."""
    name = cell_name(p, cell_id)
    notes = Q.annotate(p.atlas, name, body.key, body.value)
    p.invalidate()
    return json_response(request, {"cell_id": name, "annotations": notes})


@router.post("/uploads", tags=["writes"], status_code=201, responses=WRITE_ERRORS)
async def upload(
    request: Request,
    p: Portal,
    _w: Writer,
    file: Annotated[UploadFile, File(description="the file to store")],
    ingest: Annotated[bool, Form()] = False,
) -> Response:
    """Store an uploaded file under ``<data dir>/uploads/`` (token needed); with ``ingest=true``
    also ingest it into the atlas. Size limit, type check and atomic write."""
    from patchatlas.web.security import UploadRejected, save_upload

    settings = request.app.state.settings
    if settings.data_dir is None:
        raise HTTPException(403, "uploads are disabled: start the portal with a data folder")

    async def chunks() -> Any:
        while True:
            data = await file.read(1 << 20)
            if not data:
                break
            yield data

    folder = Path(settings.data_dir) / "uploads"
    try:
        path = await save_upload(
            chunks(), file.filename or "", folder, max_bytes=settings.max_upload_bytes
        )
    except UploadRejected as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    out: dict[str, Any] = {"stored": path.name, "size": path.stat().st_size, "ingest": None}
    if ingest:
        from patchatlas.pipeline import ingest as run_ingest

        batch = path.parent / (path.stem + ".ingest")
        batch.mkdir(exist_ok=True)
        target = batch / path.name
        path.replace(target)
        summary = run_ingest(batch, p.atlas)
        p.invalidate()
        out["stored"] = f"{batch.name}/{target.name}"
        out["ingest"] = {
            "done": summary.done,
            "skipped": summary.skipped,
            "failed": summary.failed,
        }
    return Response(dumps(out), status_code=201, media_type="application/json")
