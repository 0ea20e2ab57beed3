"""The portal's FastAPI application: :func:`create_app`."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import make_url
from starlette.exceptions import HTTPException as StarletteHTTPException

from patchatlas._version import __version__
from patchatlas.atlas import Atlas, AtlasError
from patchatlas.errors import PatchAtlasError
from patchatlas.web.security import load_token
from patchatlas.web.service import PortalData

__all__ = [
    "CONFIG_ENV",
    "Settings",
    "app_from_env",
    "create_app",
    "error_response",
    "public_message",
]

log = logging.getLogger("patchatlas.web")

HERE = Path(__file__).parent
DEFAULT_MAX_UPLOAD = 200 * 1024 * 1024
CONFIG_ENV = "PATCHATLAS_PORTAL_CONFIG"


@dataclass
class Settings:
    """How the portal runs (see :func:`create_app`)."""

    atlas_url: str
    token: str | None = field(default=None, repr=False)
    data_dir: Path | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    cors_origins: tuple[str, ...] = ()
    title: str = "patchatlas"


_PATH = re.compile(r"(?:[A-Za-z]:)?(?:/[^\s/'\"`;,)]+){2,}/?")
_HEADINGS = {
    400: "Bad request",
    401: "Sign-in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    413: "Upload too large",
    415: "File type not accepted",
    422: "Bad request",
    500: "Something went wrong",
}


def public_message(message: str, atlas_url: str = "") -> str:
    """An error message fit for users: the atlas location and server paths removed (a path
    becomes its last part), no Python hints.

    Parameters
    ----------
    message
        The message as raised.
    atlas_url
        The atlas URL (password hidden) to replace with "this atlas".

    Returns
    -------
    str
    """
    out = message.replace(atlas_url, "this atlas") if atlas_url else message
    out = re.sub(r"sqlite:/+\S*|postgresql\S*://\S*", "this atlas", out)
    out = _PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], out)
    out = re.sub(r";?\s*list them with atlas\.cells\(\)", "", out)
    out = out.replace(" in the atlas at this atlas", " in this atlas")
    return out


def error_response(
    request: Request, status: int, message: str, *, headers: dict[str, str] | None = None
) -> Response:
    """The answer to a failed request: JSON ``{"detail": …}`` for the API, a styled HTML page
    for everything else; never a server path, a traceback or a Python hint.

    Parameters
    ----------
    request
        The failed request.
    status
        HTTP status.
    message
        What went wrong (made public with :func:`public_message`); empty for an unexpected
        server error, which gets a generic message.
    headers
        Extra response headers (``WWW-Authenticate`` …).

    Returns
    -------
    fastapi.responses.Response
    """
    settings = getattr(request.app.state, "settings", None)
    url = settings.atlas_url if settings is not None else ""
    text = (
        "The server could not answer this request; the error was logged."
        if status >= 500 and not message
        else public_message(message, url)
    )
    path = request.url.path
    wants_json = (
        path.startswith("/api/")
        or path == "/openapi.json"
        or ("text/html" not in request.headers.get("accept", "") and path.startswith("/static/"))
    )
    if wants_json or request.method != "GET":
        return JSONResponse({"detail": text}, status_code=status, headers=headers)
    if (status == 404 and not message.strip()) or message == "Not Found":
        text = f"There is no page at {path}."
    from patchatlas.web.pages import render_error

    resp = render_error(request, status, _HEADINGS.get(status, "Error"), text)
    if headers:
        resp.headers.update(headers)
    return resp


def _default_data_dir(atlas: Atlas) -> Path | None:
    url = make_url(atlas.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent
    return None


def create_app(
    atlas_url: str | os.PathLike[str] | Atlas,
    *,
    token_file: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD,
    cors_origins: list[str] | tuple[str, ...] = (),
    refresh_s: float = 5.0,
    cache_entries: int = 4096,
    title: str = "patchatlas",
) -> FastAPI:
    """The web portal and REST API for one atlas.

    Parameters
    ----------
    atlas_url
        The atlas (``sqlite:///atlas.db``, a path, ``postgresql://…``) or an open
        :class:`~patchatlas.atlas.Atlas`.
    token_file
        File holding the write token. Without it the portal is read-only: uploads and
        annotations answer 403.
    data_dir
        The atlas data folder; uploads go to ``<data_dir>/uploads/`` and nowhere else. Default:
        the folder of a SQLite atlas file (none for PostgreSQL: uploads disabled).
    max_upload_bytes
        Largest accepted upload.
    cors_origins
        Origins allowed to call the API from a browser (none by default: CORS off).
    refresh_s
        How often the portal checks the atlas for changes made by others.
    cache_entries
        API answers kept in memory per data version (0: no response cache).
    title
        Shown in the page header.

    Returns
    -------
    fastapi.FastAPI
        Serve it with uvicorn (``patchatlas serve`` does).
    """
    # read-only unless writes are enabled: a typo in the URL is an error, never a new atlas
    if isinstance(atlas_url, Atlas):
        atlas = atlas_url
    else:
        atlas = Atlas(atlas_url, mode="r" if token_file is None else "a")
    ddir = Path(data_dir).resolve() if data_dir is not None else _default_data_dir(atlas)
    settings = Settings(
        atlas_url=atlas._safe_url,
        token=load_token(token_file),
        data_dir=ddir,
        max_upload_bytes=int(max_upload_bytes),
        cors_origins=tuple(cors_origins),
        title=title,
    )
    app = FastAPI(
        title=f"{title} API",
        version=__version__,
        description=(
            "REST API of a patchatlas cell-types atlas: cells, sweeps, features, morphologies, "
            "models, cell types and synaptic connectivity. Read-only unless the server was "
            "started with a token file; writes need `Authorization: Bearer <token>`."
        ),
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.portal = PortalData(atlas, refresh_s=refresh_s)
    if cache_entries > 0:
        from patchatlas.web.cache import ResponseCache

        app.add_middleware(ResponseCache, portal=app.state.portal, max_entries=cache_entries)

    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET"],
            allow_headers=["If-None-Match"],
        )

    @app.exception_handler(AtlasError)
    async def _atlas_error(request: Request, exc: AtlasError) -> Response:
        status = 404 if str(exc).startswith("no cell") or "has no" in str(exc) else 400
        return error_response(request, status, str(exc))

    @app.exception_handler(PatchAtlasError)
    async def _pa_error(request: Request, exc: PatchAtlasError) -> Response:
        return error_response(request, 400, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(
            request, exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return error_response(request, 500, "")

    from patchatlas.web.api import router as api_router
    from patchatlas.web.pages import router as page_router

    @app.get("/docs", include_in_schema=False)
    def _docs() -> HTMLResponse:
        # Swagger UI from the vendored copy in static/ (no CDN at run time)
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{title} API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    app.include_router(api_router)
    app.include_router(page_router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app


def app_from_env() -> FastAPI:
    """:func:`create_app` with the keyword arguments in the JSON of ``$PATCHATLAS_PORTAL_CONFIG``
    (``atlas_url`` plus any option). The factory each uvicorn worker process calls when
    ``patchatlas serve --workers N`` runs several (each worker keeps its own snapshot and cache;
    a write through one worker reaches the others at their next check, ≤ ``refresh_s``).

    Returns
    -------
    fastapi.FastAPI
        The portal application, as :func:`create_app` builds it.

    Raises
    ------
    patchatlas.errors.PatchAtlasError
        ``$PATCHATLAS_PORTAL_CONFIG`` is not set or empty.
    """
    import json

    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        raise PatchAtlasError(
            f"app_from_env: ${CONFIG_ENV} is not set; start the portal with `patchatlas serve`"
        )
    cfg = json.loads(raw)
    url = cfg.pop("atlas_url")
    return create_app(url, **cfg)
