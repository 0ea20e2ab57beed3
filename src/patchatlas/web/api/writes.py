"""Writes (token needed): annotations of cells, file uploads (optionally ingested), and batches of
files with a metadata CSV ingested in the background with progress."""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, HTTPException, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from patchatlas.atlas import portal as Q
from patchatlas.web.api._common import WRITE_ERRORS, Portal, cell_name, dumps, json_response

__all__ = ["AnnotationIn", "UploadJobs", "require_token", "router", "upload_jobs"]

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


class UploadJobs:
    """Background ingests of uploaded batches, one thread each, with their progress (kept in
    memory by the portal process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.jobs: dict[str, dict[str, Any]] = {}

    def start(self, p: Any, source: Path, files: list[str]) -> str:
        """Start ingesting ``source`` (a batch folder or its metadata manifest) in a thread.

        Parameters
        ----------
        p
            The portal (its atlas, invalidated when the ingest ends).
        source
            Folder or manifest to ingest.
        files
            The uploaded file names (reported back).

        Returns
        -------
        str
            The job id.
        """
        job_id = secrets.token_hex(8)
        job: dict[str, Any] = {
            "id": job_id,
            "state": "queued",
            "files": files,
            "n_total": None,
            "n_finished": 0,
            "done": 0,
            "skipped": 0,
            "failed": 0,
            "failures": [],
            "message": None,
            "started_at": time.time(),
            "finished_at": None,
        }
        with self._lock:
            self.jobs[job_id] = job
        threading.Thread(target=self._run, args=(p, source, job), daemon=True).start()
        return job_id

    def _run(self, p: Any, source: Path, job: dict[str, Any]) -> None:
        from patchatlas.errors import PatchAtlasError
        from patchatlas.pipeline import ingest as run_ingest
        from patchatlas.web.app import public_message

        def progress(event: str, cell: str, n_finished: int, n_total: int) -> None:
            with self._lock:
                job.update(state="running", n_finished=n_finished, n_total=n_total)

        job["state"] = "running"
        try:
            summary = run_ingest(source, p.atlas, progress=progress)
        except (PatchAtlasError, OSError) as exc:
            with self._lock:
                job.update(state="failed", message=public_message(str(exc)))
        else:
            failures = [
                {
                    "cell": getattr(f, "cell_name", getattr(f, "name", "")),
                    "file": Path(str(getattr(f, "path", ""))).name,
                    "reason": public_message(str(getattr(f, "reason", f))),
                }
                for f in getattr(summary, "failures", [])
            ]
            with self._lock:
                job.update(
                    state="done",
                    done=summary.done,
                    skipped=summary.skipped,
                    failed=summary.failed,
                    failures=failures,
                    n_finished=summary.done + summary.skipped + summary.failed,
                    n_total=summary.done + summary.skipped + summary.failed,
                )
        finally:
            job["finished_at"] = time.time()
            p.invalidate()

    def get(self, job_id: str) -> dict[str, Any] | None:
        """A job's state (a copy), or None.

        Parameters
        ----------
        job_id
            As returned by :meth:`start`.

        Returns
        -------
        dict or None
        """
        with self._lock:
            job = self.jobs.get(job_id)
            return None if job is None else dict(job)


def upload_jobs(request: Request) -> UploadJobs:
    """The app's :class:`UploadJobs` (created on first use).

    Parameters
    ----------
    request
        Any request of the app.

    Returns
    -------
    UploadJobs
    """
    jobs: UploadJobs | None = getattr(request.app.state, "upload_jobs", None)
    if jobs is None:
        jobs = request.app.state.upload_jobs = UploadJobs()
    return jobs


@router.post("/uploads/batch", tags=["writes"], status_code=202, responses=WRITE_ERRORS)
async def upload_batch(
    request: Request,
    p: Portal,
    _w: Writer,
    files: Annotated[list[UploadFile], File(description="recordings and reconstructions")],
    metadata: Annotated[
        UploadFile | None,
        File(description="optional manifest CSV: cell_id, file, annotations (species, layer …)"),
    ] = None,
) -> Response:
    """Store several files (and an optional metadata CSV naming cells, files and annotations)
    in a new batch folder under ``<data dir>/uploads/`` and ingest it in the background (token
    needed). Answers 202 with a job id; ``/uploads/jobs/{id}`` reports the progress."""
    from patchatlas.web.security import UploadRejected, save_upload

    settings = request.app.state.settings
    if settings.data_dir is None:
        raise HTTPException(403, "uploads are disabled: start the portal with a data folder")
    batch = (
        Path(settings.data_dir)
        / "uploads"
        / f"batch-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    )

    async def chunks(f: UploadFile) -> Any:
        while True:
            data = await f.read(1 << 20)
            if not data:
                break
            yield data

    stored: list[str] = []
    try:
        for f in files:
            path = await save_upload(
                chunks(f), f.filename or "", batch, max_bytes=settings.max_upload_bytes
            )
            stored.append(path.name)
        manifest = None
        if metadata is not None and metadata.filename:
            if not metadata.filename.lower().endswith((".csv", ".tsv")):
                raise UploadRejected(
                    "the metadata file must be a .csv or .tsv manifest", status=415
                )
            manifest = await save_upload(
                chunks(metadata), metadata.filename, batch, max_bytes=settings.max_upload_bytes
            )
    except UploadRejected as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    if not stored:
        raise HTTPException(400, "no file uploaded")
    job = upload_jobs(request).start(p, manifest if manifest is not None else batch, stored)
    return Response(
        dumps({"job": job, "batch": batch.name, "stored": stored}),
        status_code=202,
        media_type="application/json",
    )


@router.get("/uploads/jobs/{job_id}", tags=["writes"])
def upload_job(request: Request, job_id: str) -> Response:
    """Progress of a background ingest started by ``/uploads/batch``: state (queued, running,
    done, failed), cells finished of total, done / skipped / failed, and each failure with its
    file and reason."""
    job = upload_jobs(request).get(job_id)
    if job is None:
        raise HTTPException(
            404, f"no upload job {job_id!r} (jobs are kept until the portal restarts)"
        )
    return Response(
        dumps(job), media_type="application/json", headers={"Cache-Control": "no-store"}
    )
