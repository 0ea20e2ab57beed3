"""``patchatlas serve``: the web portal and REST API of an atlas."""

from __future__ import annotations

from pathlib import Path

import click

from patchatlas.cli._util import console


@click.command()
@click.option("--atlas", "atlas_url", required=True, help="Atlas URL or SQLite file.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="TCP port.")
@click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="File holding the write token (uploads, annotations); read-only without it.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Atlas data folder for uploads (default: the SQLite file's folder).",
)
@click.option("--max-upload-mb", default=200, show_default=True, type=int)
@click.option("--cors-origin", "cors", multiple=True, help="Allow browser calls from ORIGIN.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes (each with its own cache; writes reach the others within 5 s).",
)
def serve(
    atlas_url: str,
    host: str,
    port: int,
    token_file: Path | None,
    data_dir: Path | None,
    max_upload_mb: int,
    cors: tuple[str, ...],
    workers: int,
) -> None:
    """Serve the cell-types portal of an atlas (Cell Feature Search, cell pages, REST API)."""
    from patchatlas.web import create_app

    app = create_app(
        atlas_url,
        token_file=token_file,
        data_dir=data_dir,
        max_upload_bytes=max_upload_mb * 1024 * 1024,
        cors_origins=cors,
    )
    import uvicorn

    con = console()
    mode = "read-write (token)" if token_file else "read-only"
    con.print(f"patchatlas portal on http://{host}:{port}/ ({mode}); API docs at /docs")
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    # several processes: each worker builds the same app from the environment (shared nothing)
    import json
    import os

    from patchatlas.web.app import CONFIG_ENV

    cfg = {
        "atlas_url": str(atlas_url),
        "token_file": None if token_file is None else str(token_file.resolve()),
        "data_dir": None if data_dir is None else str(data_dir.resolve()),
        "max_upload_bytes": max_upload_mb * 1024 * 1024,
        "cors_origins": list(cors),
    }
    os.environ[CONFIG_ENV] = json.dumps(cfg)
    del app  # checked above (atlas opens, migrations ran); the workers build their own
    uvicorn.run(
        "patchatlas.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )
