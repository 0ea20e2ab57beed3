"""Load test of the portal on loopback: N concurrent clients for T seconds against the REST API
and the Cell Feature Search page of a synthetic atlas.

    .venv/bin/python benchmarks/portal_load.py --cells 5000 --clients 50 --duration 60

Builds (or reuses, in ``--workdir``) a synthetic atlas, starts ``patchatlas serve`` on 127.0.0.1
in a subprocess and runs closed-loop clients (``--think``: mean pause between requests, default
none), measured after ``--warmup`` s of the same load. Each client does 4 API calls, then one
search page load (``/`` + its script + ``/api/search``). Prints the table and appends it to
``--out``. Targets: 0 errors, API p99 < 100 ms, search page p99 < 1 s. ``--client raw`` uses a
minimal asyncio HTTP/1.1 client instead of httpx (on a 2-core box httpx itself limits the load);
``--workers N`` starts ``patchatlas serve --workers N``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np

HOST = "127.0.0.1"  # loopback only


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def build_atlas(workdir: Path, n_cells: int) -> str:
    from patchatlas.atlas import Atlas
    from patchatlas.datasets.synthetic_atlas import build_synthetic_atlas

    db = workdir / f"atlas_{n_cells}.db"
    url = f"sqlite:///{db}"
    if db.exists():
        a = Atlas(url)
        n = len(a.cells())
        a.close()
        if n == n_cells:
            return url
        db.unlink()
    t0 = time.perf_counter()
    build_synthetic_atlas(url, workdir / "files", n_cells=n_cells, n_pairs=3000, seed=1)
    print(f"built {n_cells}-cell atlas in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return url


SPECIES = ("mouse", "human")
FAMILIES = ("Sst", "Pvalb", "Vip", "IT", "Lamp5")


def api_paths(
    ids: list[str],
    features: list[str],
    rng: random.Random,
    species: tuple[str, ...] = SPECIES,
    fams: tuple[str, ...] = FAMILIES,
) -> list[str]:
    out = []
    for _ in range(2000):
        k = rng.randrange(9)
        cid = rng.choice(ids)
        f = rng.choice(features)
        if k == 0:
            out.append(
                f"/api/cells?species={rng.choice(list(species))}&limit=50"
                f"&offset={rng.randrange(20) * 50}"
            )
        elif k == 1:
            lo = rng.choice([20, 50, 80, 120])
            out.append(
                f"/api/cells?t_type_family={rng.choice(list(fams))}&range=rheobase:{lo}..{lo + 100}"
                f"&sort={f}&limit=24"
            )
        elif k == 2:
            out.append(f"/api/cells/{cid}")
        elif k == 3:
            out.append(f"/api/cells/{cid}/features")
        elif k == 4:
            out.append("/api/types")
        elif k == 5:
            out.append("/api/connectivity")
        elif k == 6:
            out.append("/api/features/registry")
        elif k == 7:
            out.append(f"/api/pairs?limit=100&offset={rng.randrange(30) * 100}")
        else:
            out.append(f"/api/types/physiology?feature={f}")
    return out


class RawClient:
    """A minimal keep-alive HTTP/1.1 GET client on asyncio streams (``--client raw``): a fraction
    of httpx's CPU per request, so that on a small machine the load generator does not dominate
    the latencies it measures. Reads Content-Length bodies (the portal sends no chunked GETs);
    anything else is an error."""

    def __init__(self, base: str, timeout: float = 30.0) -> None:
        hostport = base.split("://", 1)[1]
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        self.timeout = timeout
        self.rw: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def __aenter__(self) -> RawClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.rw is not None:
            self.rw[1].close()

    async def _get(self, path: str) -> int:
        if self.rw is None:
            self.rw = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.rw
        path = quote(path, safe="/?&=:.,_-+%")  # as httpx sends it (spaces encoded)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nAccept-Encoding: gzip\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = None
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        if length is None:
            if status in (204, 304):
                return status
            raise httpx.HTTPError(f"{path}: response without Content-Length")
        await reader.readexactly(length)
        return status

    async def get_status(self, path: str) -> int:
        try:
            return await asyncio.wait_for(self._get(path), self.timeout)
        except (
            TimeoutError,
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
        ) as exc:
            if self.rw is not None:
                self.rw[1].close()
            self.rw = None
            raise httpx.HTTPError(f"{path}: {exc!r}") from exc


async def fetch(c: httpx.AsyncClient | RawClient, path: str) -> int:
    if isinstance(c, RawClient):
        return await c.get_status(path)
    return await _fetch_httpx(c, path)


async def _fetch_httpx(c: httpx.AsyncClient, path: str) -> int:
    """GET ``path`` and read the whole body as sent (gzip not inflated, as a browser would do
    natively), so that the load generator spends little CPU per request."""
    async with c.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as r:
        async for _ in r.aiter_raw():
            pass
        return r.status_code


async def client(
    base: str,
    paths: list[str],
    start: float,
    stop: float,
    seed: int,
    lat: dict[str, list[float]],
    errs: list[str],
    think: float,
    slow: list[tuple[float, str]],
    raw: bool = False,
) -> None:
    rng = random.Random(seed)
    conn = RawClient(base) if raw else httpx.AsyncClient(base_url=base, timeout=30.0)
    async with conn as c:
        i = 0
        while time.perf_counter() < stop:
            if think > 0:
                await asyncio.sleep(rng.expovariate(1.0 / think))
                if time.perf_counter() >= stop:
                    break
            i += 1
            if i % 5 == 0:
                t0 = time.perf_counter()
                ok = True
                for p in ("/", "/static/js/search.js", "/api/search"):
                    try:
                        ok &= await fetch(c, p) == 200
                    except httpx.HTTPError as exc:
                        errs.append(f"{p}: {exc!r}")
                        ok = False
                if t0 >= start:
                    if not ok:
                        errs.append("search page: non-200")
                    lat["search page"].append(time.perf_counter() - t0)
                continue
            p = rng.choice(paths)
            t0 = time.perf_counter()
            try:
                status = await fetch(c, p)
                err = None if status == 200 else f"{p}: {status}"
            except httpx.HTTPError as exc:
                err = f"{p}: {exc!r}"
            if t0 >= start:
                if err:
                    errs.append(err)
                dt = time.perf_counter() - t0
                lat["api"].append(dt)
                slow.append((dt, p))


async def run_load(
    base: str,
    n_clients: int,
    duration: float,
    think: float,
    warmup: float = 0.0,
    raw: bool = False,
    species: tuple[str, ...] = SPECIES,
    fams: tuple[str, ...] = FAMILIES,
) -> tuple[dict, list[str], float]:
    async with httpx.AsyncClient(base_url=base, timeout=120.0) as c:
        search = (await c.get("/api/search")).json()
        await c.get("/")
    ids = search["columns"]["cell_id"]
    feats = [f["name"] for f in search["features"]]
    paths = api_paths(ids, feats, random.Random(0), species, fams)
    lat: dict[str, list[float]] = {"api": [], "search page": []}
    errs: list[str] = []
    slow: list[tuple[float, str]] = []
    t0 = time.perf_counter() + warmup  # same load before t0 is not measured
    stop = t0 + duration
    await asyncio.gather(
        *[client(base, paths, t0, stop, k, lat, errs, think, slow, raw) for k in range(n_clients)]
    )
    slow.sort(reverse=True)
    print("slowest API requests:", [(round(d * 1000), p) for d, p in slow[:8]], file=sys.stderr)
    return lat, errs, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--think", type=float, default=0.0, help="mean think time between requests (s)")
    ap.add_argument(
        "--warmup", type=float, default=10.0, help="seconds of the same load before measuring"
    )
    ap.add_argument(
        "--client",
        choices=["httpx", "raw"],
        default="httpx",
        help="load generator: httpx, or a minimal asyncio HTTP/1.1 client (less client CPU)",
    )
    ap.add_argument("--workers", type=int, default=1, help="server processes (serve --workers)")
    ap.add_argument(
        "--species",
        default=",".join(SPECIES),
        help="species values of the cell-list requests (those of the atlas under test)",
    )
    ap.add_argument(
        "--families",
        default=",".join(FAMILIES),
        help="t-type families of the cell-list requests (those of the atlas under test; an atlas "
        "built before the harmonised vocabulary has Mus musculus / Homo sapiens and L5 / Inh)",
    )
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/patchatlas-portal-load"))
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS-web.md"))
    args = ap.parse_args()
    if args.duration + args.warmup > 600 or args.clients > 500:
        ap.error("bounded benchmark: --duration + --warmup ≤ 600 s and --clients ≤ 500")
    args.workdir.mkdir(parents=True, exist_ok=True)
    load0 = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    url = build_atlas(args.workdir, args.cells)
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "patchatlas.cli.main",
        "serve",
        "--atlas",
        url,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(args.workers),
    ]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                if httpx.get(base + "/api/atlas", timeout=60).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise SystemExit("server did not start: " + server.stderr.read().decode()[-2000:])
            time.sleep(0.3)
        lat, errs, wall = asyncio.run(
            run_load(
                base,
                args.clients,
                args.duration,
                args.think,
                args.warmup,
                args.client == "raw",
                tuple(args.species.split(",")),
                tuple(args.families.split(",")),
            )
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    rows = []
    for name, xs in lat.items():
        a = np.array(xs) * 1000
        rows.append(
            f"| {name} | {a.size} | {a.size / wall:.0f} | {np.percentile(a, 50):.1f} | "
            f"{np.percentile(a, 95):.1f} | {np.percentile(a, 99):.1f} | {a.max():.1f} |"
        )
    api99 = np.percentile(np.array(lat["api"]) * 1000, 99)
    page99 = np.percentile(np.array(lat["search page"]) * 1000, 99)
    verdict = (
        f"errors: {len(errs)}; API p99 {api99:.1f} ms (target < 100): "
        f"{'PASS' if api99 < 100 else 'FAIL'}; search page p99 {page99:.0f} ms (target < 1000): "
        f"{'PASS' if page99 < 1000 else 'FAIL'}"
    )
    cpu = platform.processor() or platform.machine()
    text = "\n".join(
        [
            f"## portal load: {args.cells} cells, {args.clients} clients, {args.duration:.0f} s, "
            f"think time {args.think:g} s "
            f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
            "",
            f"Command: `.venv/bin/python benchmarks/portal_load.py --cells {args.cells} "
            f"--clients {args.clients} --duration {args.duration:.0f} --think {args.think:g} "
            f"--warmup {args.warmup:g} --workers {args.workers} --client {args.client} "
            f"--species '{args.species}' --families '{args.families}'`  ",
            f"Machine: {os.cpu_count()}-core {cpu}, Python {platform.python_version()}; server = "
            f"`patchatlas serve --workers {args.workers}` (uvicorn), "
            f"clients = one asyncio process ({args.client}), "
            "both on 127.0.0.1, closed loop (exponential think time of the given mean), measured "
            "after a warm-up under the same load. "
            f"Load average before the run: {load0}.",
            "",
            "| request | n | per s | p50 ms | p95 ms | p99 ms | max ms |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            verdict,
            *(["", "First errors: " + "; ".join(errs[:5])] if errs else []),
            "",
        ]
    )
    print(text)
    with args.out.open("a", encoding="utf-8") as fh:
        fh.write(text + "\n")


if __name__ == "__main__":
    main()
