"""Loopback stand-ins for the Allen Brain Atlas API and the DANDI Archive API, built from real
files in ``../shared/data``, with fault injection.

The live services cannot be reached from the test machines, so the data clients are tested
against this server. What it serves, and where it comes from:

Allen (``/api/v2/data/query.json`` RMA queries, ``/api/v2/well_known_file_download/<id>``):

* ``ApiCellTypesSpecimenDetail``: the 117 real rows of ``allen_metadata/osb_allen_cell_data.csv``
  (an export of that table; its values sit one column right of their headers after the
  specimen name, which was split at its semicolon — realigned here), with ``donor__species``
  ``Mus musculus`` added (all 117 are mouse VISp cells). Paging honours ``num_rows`` (default 50,
  like the live API), ``start_row`` and ``order``; filters ``$eq``, ``$ne``, ``$in``, ``$il``.
* ``Specimen`` with ``ephys_result`` / ``neuron_reconstructions`` well-known files (the record
  shape of the real model metadata in ``allen_metadata/specimen_464198958``):
  an ``NWBDownload`` per specimen — an NWB 1 file in the Allen download layout written from real
  traces by ``tests/io/allen_nwb1.py`` (pyABF ramp and short square, a MIES test pulse; six of
  the 16 real current steps of pyABF's ``17o05028_ic_steps.abf`` as the long squares, which six
  depending on the specimen id; sweep numbers, names and amplitudes of specimen 464198958).
  These are stand-ins: not the specimens' own recordings (no Allen NWB can be downloaded here),
  so patchatlas's ephys values of these files are not expected to agree with Allen's — and
  ``3DNeuronReconstruction`` /
  ``3DNeuronMarker`` files for the three specimens whose real SWC (and marker) files are in
  ``morphology/allen_swc``.
* ``EphysSweep``: specimen 464198958's real sweep table (for the other specimens the same rows
  with their own specimen id). ``NeuronalModel``: the two real GLIF models of 464198958.

DANDI (``/api/dandisets/<id>/``, ``…/versions/<v>/assets/`` paged with ``next``,
``/api/assets/<id>/`` metadata with ``digest``, ``/api/assets/<id>/download/`` → 302 to
``/blobs/<sha>``): dandiset ``000008`` with NWB 2 assets — the real BluePyEfe NWB 2.4 file and
NWB 2 files written by ``patchatlas.io.write_nwb`` from real pyABF recordings — plus one
non-NWB asset.

Run it by hand (the README's example): ``python tests/datasets/fake_services.py --port 8765``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import hashlib
import json
import re
import socket
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "io"))  # tests/io/allen_nwb1.py

from allen_nwb1 import AllenSweep, allen_sweeps, write_allen_nwb1  # noqa: E402

SWC = {  # specimen id -> (reconstruction, marker) in morphology/allen_swc
    464198958: (
        "Sst-IRES-Cre_Ai14-165865.03.01.01_491119181_m.swc",
        "Sst-IRES-Cre_Ai14-165865.03.01.01_491119181_marker_m.swc",
    ),
    479704527: (
        "Rbp4-Cre_KL100_Ai14-196623.04.01.01_491119548_m.swc",
        "Rbp4-Cre_KL100_Ai14-196623.04.01.01_491119548_marker_m.swc",
    ),
    486111903: ("Rbp4-Cre_KL100_Ai14-205727.03.02.01_500961607_m.swc", None),
}
TYPE_IDS = {
    "NWBDownload": 475137571,
    "3DNeuronReconstruction": 303941301,
    "3DNeuronMarker": 466800056,
}
DANDISET = "000008"
VERSION = "0.211014.0809"


@dataclass
class Fault:
    """Misbehave on the next ``times`` requests whose path+query matches ``pattern``.

    kinds: ``status`` (answer ``status`` with a JSON error, ``retry_after`` header if set),
    ``drop`` (send the headers and half the body, then close), ``reset`` (close before any
    answer), ``corrupt`` (flip a byte of a file), ``no-range`` (ignore ``Range``).
    """

    pattern: str
    kind: str
    times: int = 1
    status: int = 500
    retry_after: float | None = None


@dataclass
class Served:
    """A file the server holds (bytes built lazily)."""

    name: str
    build: Any  # () -> bytes
    data: bytes | None = None


def _allen_rows(shared: Path) -> list[dict[str, Any]]:
    path = shared / "ephys/allen_metadata/osb_allen_cell_data.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    out = []
    for r in rows[1:]:
        # the specimen name was split at its semicolon: realign the rest
        d: dict[str, Any] = {
            "line_name": r[0],
            "specimen__id": int(r[1]),
            "specimen__name": f"{r[2]};{r[3]}",
        }
        for k, col in enumerate(header[3:], start=3):
            if col and k + 1 < len(r):
                # the live API sends layers as text ("5", "2/3")
                d[col] = r[k + 1] if col == "structure__layer" else _value(r[k + 1])
        d["donor__species"] = "Mus musculus"
        d["nr__reconstruction_type"] = None
        d.pop("nrwkf__id", None)
        out.append(d)
    return out


def _value(text: str) -> Any:
    if text == "":
        return None
    try:
        f = float(text)
    except ValueError:
        return text
    return int(f) if f.is_integer() and "." not in text else f


def _etag(data: bytes) -> str:
    """DANDI etag of a file below 64 MiB: one part (written independently of the client)."""
    if not data:
        return hashlib.md5(b"").hexdigest() + "-0"
    return hashlib.md5(hashlib.md5(data).digest()).hexdigest() + "-1"


@dataclass
class FakeServices:
    """The two services' data, the faults to inject and a request log."""

    shared: Path
    workdir: Path
    faults: list[Fault] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    n_dandi_nwb: int = 3
    throttle: float = 0.0  # seconds to wait after each 64 KiB of a file (to make downloads overlap)
    inflight: int = 0
    max_inflight: int = 0

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.rows = _allen_rows(self.shared)
        self.by_id = {r["specimen__id"]: r for r in self.rows}
        self.files: dict[int, Served] = {}  # well-known file id -> file
        self.links: dict[int, dict[str, dict[str, Any]]] = {}  # specimen -> kind -> wkf record
        self._sweep_traces: list[AllenSweep] | None = None
        self._steps: list[tuple[Any, Any, float, str]] | None = None
        meta = self.shared / "ephys/allen_metadata/specimen_464198958"
        self.sweep_table = json.loads((meta / "464198958_ephys_sweeps.json").read_text())
        for r in self.rows:
            sid = r["specimen__id"]
            wid = int(r.get("erwkf__id") or 9_100_000_000 + sid)
            self._add(sid, "NWBDownload", wid, f"{sid}_ephys.nwb", self._nwb_builder(sid))
            if sid in SWC:
                swc, marker = SWC[sid]
                base = self.shared / "morphology/allen_swc"
                wid = 9_200_000_000 + sid
                self._add(sid, "3DNeuronReconstruction", wid, swc, _reader(base / swc))
                r["nr__reconstruction_type"] = "full"
                r["nrwkf__id"] = wid
                if marker:
                    self._add(
                        sid, "3DNeuronMarker", 9_300_000_000 + sid, marker, _reader(base / marker)
                    )
        self.models: dict[int, list[dict[str, Any]]] = {464198958: []}
        for mid in (566291893, 566291897):
            md = json.loads((meta / f"glif_{mid}_model_metadata.json").read_text())
            for w in md["well_known_files"]:
                self.files[int(w["id"])] = Served(
                    Path(w["path"]).name, _reader(meta / f"glif_{mid}_neuron_config.json")
                )
            md["neuronal_model_template"] = {
                "id": md["neuronal_model_template_id"],
                "name": md["name"].split("_")[0],
            }
            self.models[464198958].append(md)
        self._build_dandi()

    # -------------------------------------------------------------------------------- Allen

    def _add(self, sid: int, type_name: str, wid: int, name: str, build: Any) -> None:
        self.files[wid] = Served(name, build)
        kind = {
            "NWBDownload": "ephys_result",
            "3DNeuronReconstruction": "recon",
            "3DNeuronMarker": "recon",
        }[type_name]
        rec = {
            "attachable_id": sid,
            "attachable_type": "EphysResult" if kind == "ephys_result" else "NeuronReconstruction",
            "download_link": f"/api/v2/well_known_file_download/{wid}",
            "id": wid,
            "path": f"/external/mousecelltypes/specimen_{sid}/{name}",
            "well_known_file_type_id": TYPE_IDS[type_name],
            "well_known_file_type": {"id": TYPE_IDS[type_name], "name": type_name},
        }
        self.links.setdefault(sid, {})[type_name] = rec

    def traces(self) -> list[AllenSweep]:
        with self._lock:
            if self._sweep_traces is None:
                self._sweep_traces = allen_sweeps(self.shared / "ephys")
            return self._sweep_traces

    def _nwb_builder(self, sid: int) -> Any:
        def build() -> bytes:
            sweeps = self.traces()
            longs = [s for s in sweeps if s.name == "Long Square"]
            # six of the 16 real steps (-50 … +100 pA, spiking from +30 pA), which six depends
            # on the specimen; Allen's sweep numbers and names are kept
            steps = self.steps()
            first = sid % 5
            picked = [steps[first + 2 * k] for k in range(len(longs))]
            chosen = [s for s in sweeps if s.name != "Long Square"]
            chosen += [
                dataclasses.replace(
                    ls, v=v, i=i, spike_times=_spikes(v, rate), source=f"{src} (stand-in)"
                )
                for ls, (v, i, rate, src) in zip(longs, picked, strict=True)
            ]
            path = self.workdir / f"allen_{sid}.nwb"
            write_allen_nwb1(path, sorted(chosen, key=lambda s: s.number))
            return path.read_bytes()

        return build

    def steps(self) -> list[tuple[Any, Any, float, str]]:
        """The 16 real current steps of pyABF's 17o05028_ic_steps.abf (v, i, rate, label)."""
        with self._lock:
            if self._steps is None:
                import numpy as np

                import patchatlas

                rec = patchatlas.read(self.shared / "ephys/abf_pyabf/17o05028_ic_steps.abf")
                self._steps = [
                    (np.asarray(w.v, dtype=np.float32), np.asarray(w.i), w.sampling_rate,
                     f"17o05028_ic_steps.abf sweep {k}")
                    for k, w in enumerate(rec.sweeps)
                ]  # fmt: skip
            return self._steps

    def file_bytes(self, served: Served) -> bytes:
        with self._lock:
            if served.data is None:
                served.data = served.build()
            return served.data

    def rma(self, q: str) -> dict[str, Any]:
        model_m = re.search(r"model::(\w+)", q)
        if model_m is None:
            return {"success": False, "msg": f"no model in {q!r}"}
        model = model_m.group(1)
        crit_m = re.search(r"rma::criteria,(.*?)(?:,rma::|$)", q)
        filters = re.findall(r"\[(\w+)\$(eq|ne|in|il)([^\]]*)\]", crit_m.group(1) if crit_m else "")
        opt_m = re.search(r"rma::options(.*)$", q)
        opts = dict(re.findall(r"\[(\w+)\$eq'?([^\]']*)'?\]", opt_m.group(1) if opt_m else ""))
        if model == "ApiCellTypesSpecimenDetail":
            rows = [dict(r) for r in self.rows]
        elif model == "Specimen":
            rows = [self._specimen(sid) for sid in self.by_id]
            filters = [("id" if f[0] == "id" else f[0], f[1], f[2]) for f in filters]
        elif model == "EphysSweep":
            rows = [
                {**s, "specimen_id": sid, "id": s["id"] + sid}
                for sid in self.by_id
                for s in self.sweep_table
            ]
        elif model == "NeuronalModel":
            rows = [m for ms in self.models.values() for m in ms]
        else:
            return {"success": False, "msg": f"unknown model {model}"}
        for attr, op, raw in filters:
            rows = [r for r in rows if _match(r.get(attr), op, raw)]
        order = opts.get("order")
        if order:
            rows.sort(key=lambda r: (r.get(order) is None, r.get(order)))
        total = len(rows)
        start = int(opts.get("start_row", 0))
        n = opts.get("num_rows", "50")
        page = rows[start:] if n == "all" else rows[start : start + int(n)]
        return {"success": True, "id": 0, "start_row": start, "num_rows": len(page),
                "total_rows": total, "msg": page}  # fmt: skip

    def _specimen(self, sid: int) -> dict[str, Any]:
        links = self.links.get(sid, {})
        recon = [links[k] for k in ("3DNeuronReconstruction", "3DNeuronMarker") if k in links]
        return {
            "id": sid,
            "name": self.by_id[sid]["specimen__name"],
            "ephys_result": {"id": sid + 1, "well_known_files": [links["NWBDownload"]]},
            "neuron_reconstructions": [{"id": sid + 2, "well_known_files": recon}] if recon else [],
        }

    # -------------------------------------------------------------------------------- DANDI

    def _build_dandi(self) -> None:
        import patchatlas
        from patchatlas.io import write_nwb

        ephys = self.shared / "ephys"
        sources: list[tuple[str, Path | None, str, str]] = [
            ("sub-rat-99111002/sub-rat-99111002_ses-99111002_icephys.nwb",
             ephys / "nwb/bluepyefe_hippocampus-portal_99111002.nwb", "Rattus norvegicus", "M"),
        ]  # fmt: skip
        abfs = ["File_axon_5", "17o05027_ic_ramp", "171116sh_0018", "2019_07_24_0055_fsi"]
        for k, stem in enumerate(abfs[: max(self.n_dandi_nwb - 1, 0)]):
            path = self.workdir / f"dandi_{stem}.nwb"
            if not path.exists():
                write_nwb(patchatlas.read(ephys / f"abf_pyabf/{stem}.abf"), path)
            sub = f"sub-mouse-{k + 1:03d}"
            sources.append((f"{sub}/{sub}_ses-{stem}_icephys.nwb", path, "Mus musculus", "F"))
        self.assets: list[dict[str, Any]] = []
        self.blobs: dict[str, bytes] = {}
        for path, src, species, sex in sources:
            data = src.read_bytes() if src is not None else b""
            self._add_asset(path, data, species, sex)
        self._add_asset("samples.tsv", b"sample_id\tspecies\nA\tmouse\n", "Mus musculus", "F")
        self.assets.sort(key=lambda a: a["path"])

    def _add_asset(self, path: str, data: bytes, species: str, sex: str) -> None:
        sha = hashlib.sha256(data).hexdigest()
        asset_id = f"{sha[:8]}-{sha[8:12]}-{sha[12:16]}-{sha[16:20]}-{sha[20:32]}"
        self.blobs[sha] = data
        subject = path.split("/")[0] if "/" in path else "sub-none"
        self.assets.append(
            {
                "asset_id": asset_id,
                "path": path,
                "size": len(data),
                "blob": sha,
                "zarr": None,
                "created": "2021-10-14T08:09:00Z",
                "modified": "2021-10-14T08:09:00Z",
                "metadata": {
                    "schemaKey": "Asset",
                    "identifier": asset_id,
                    "path": path,
                    "contentSize": len(data),
                    "encodingFormat": "application/x-nwb",
                    "digest": {"dandi:dandi-etag": _etag(data), "dandi:sha2-256": sha},
                    "wasAttributedTo": [
                        {
                            "schemaKey": "Participant",
                            "identifier": subject.removeprefix("sub-"),
                            "species": {"name": species},
                            "sex": {"name": "Male" if sex == "M" else "Female"},
                            "age": {"value": "P56D"},
                        }
                    ],
                },
            }
        )

    # ------------------------------------------------------------------------------- faults

    def take_fault(self, target: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.times > 0 and re.search(f.pattern, target):
                    f.times -= 1
                    return f
        return None


def _spikes(v: Any, rate: float) -> Any:
    import numpy as np

    up = np.flatnonzero((v[:-1] < 0.0) & (v[1:] >= 0.0)) + 1
    return up / rate


def _reader(path: Path) -> Any:
    return path.read_bytes


def _match(value: Any, op: str, raw: str) -> bool:
    text = raw.strip("'")
    if op == "in":
        return str(value) in {v.strip("'") for v in raw.split(",")}
    if op == "il":
        pattern = re.escape(text.lower()).replace(r"\*", ".*")
        return value is not None and re.fullmatch(pattern, str(value).lower()) is not None
    same = str(value).lower() == text.lower() if value is not None else text.lower() == "null"
    return same if op == "eq" else not same


class _Handler(BaseHTTPRequestHandler):
    services: FakeServices
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        parsed = urllib.parse.urlparse(self.path)
        target = urllib.parse.unquote(self.path)
        entry = {"path": parsed.path, "query": urllib.parse.unquote(parsed.query),
                 "range": self.headers.get("Range"), "status": None}  # fmt: skip
        with self.services._lock:
            self.services.log.append(entry)
        fault = self.services.take_fault(target)
        if fault is not None and fault.kind == "reset":
            entry["status"] = "reset"
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None and fault.kind == "status":
            entry["status"] = fault.status
            body = json.dumps({"success": False, "msg": "injected failure"}).encode()
            extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            self._send(fault.status, body, "application/json", extra)
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._route(parsed, fault, entry)

    def _route(self, parsed: Any, fault: Fault | None, entry: dict[str, Any]) -> None:
        s = self.services
        path = parsed.path
        qs = urllib.parse.parse_qs(parsed.query)
        if path == "/api/v2/data/query.json":
            q = (qs.get("criteria") or qs.get("q") or [""])[0]
            doc = s.rma(q)
            entry["status"] = 200
            self._send(200, json.dumps(doc).encode(), "application/json")
            return
        m = re.fullmatch(r"/api/v2/well_known_file_download/(\d+)", path)
        if m:
            served = s.files.get(int(m.group(1)))
            if served is None:
                return self._not_found(entry)
            self._file(s.file_bytes(served), fault, entry, served.name)
            return
        m = re.fullmatch(r"/api/dandisets/(\d{6})/", path)
        if m:
            if m.group(1) != DANDISET:
                return self._not_found(entry)
            doc = {
                "identifier": DANDISET,
                "most_recent_published_version": {"version": VERSION, "name": "Scala 2021"},
                "draft_version": {"version": "draft", "name": "Scala 2021"},
            }
            entry["status"] = 200
            self._send(200, json.dumps(doc).encode(), "application/json")
            return
        m = re.fullmatch(r"/api/dandisets/(\d{6})/versions/([^/]+)/assets/", path)
        if m:
            if m.group(1) != DANDISET or m.group(2) not in (VERSION, "draft"):
                return self._not_found(entry)
            size = int(qs.get("page_size", ["100"])[0])
            page = int(qs.get("page", ["1"])[0])
            chunk = s.assets[(page - 1) * size : page * size]
            more = page * size < len(s.assets)
            base = f"http://{self.headers.get('Host')}{path}"
            nxt = f"{base}?{urllib.parse.urlencode({'page': page + 1, 'page_size': size})}"
            doc = {
                "count": len(s.assets),
                "next": nxt if more else None,
                "previous": None,
                "results": [{k: v for k, v in a.items() if k != "metadata"} for a in chunk],
            }
            entry["status"] = 200
            self._send(200, json.dumps(doc).encode(), "application/json")
            return
        m = re.fullmatch(r"/api/assets/([0-9a-f-]+)/(download/)?", path)
        if m:
            asset = next((a for a in s.assets if a["asset_id"] == m.group(1)), None)
            if asset is None:
                return self._not_found(entry)
            if m.group(2):
                entry["status"] = 302
                self._send(302, b"", "text/plain", {"Location": f"/blobs/{asset['blob']}"})
            else:
                entry["status"] = 200
                self._send(200, json.dumps(asset["metadata"]).encode(), "application/json")
            return
        m = re.fullmatch(r"/blobs/([0-9a-f]{64})", path)
        if m and m.group(1) in s.blobs:
            self._file(s.blobs[m.group(1)], fault, entry, m.group(1))
            return
        self._not_found(entry)

    def _not_found(self, entry: dict[str, Any]) -> None:
        entry["status"] = 404
        self._send(404, b'{"detail": "Not found."}', "application/json")

    def _send(
        self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _file(self, data: bytes, fault: Fault | None, entry: dict[str, Any], name: str) -> None:
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        if fault is not None and fault.kind == "corrupt":
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        start = 0
        rng = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        use_range = rng is not None and (fault is None or fault.kind != "no-range")
        if use_range and if_range is not None and if_range != etag:
            use_range = False
        if use_range and rng is not None:
            m = re.fullmatch(r"bytes=(\d+)-", rng)
            start = int(m.group(1)) if m else 0
            if start >= len(data):
                entry["status"] = 416
                self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{len(data)}"})
                return
        body = data[start:]
        status = 206 if start else 200
        entry["status"] = status
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Disposition", f'attachment; filename="{name}"')
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if fault is not None and fault.kind == "drop":
            entry["status"] = f"drop@{start + len(body) // 2}"
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        s = self.services
        with s._lock:
            s.inflight += 1
            s.max_inflight = max(s.max_inflight, s.inflight)
        try:
            for k in range(0, len(body), 1 << 16):
                self.wfile.write(body[k : k + (1 << 16)])
                if s.throttle:
                    time.sleep(s.throttle)
        finally:
            with s._lock:
                s.inflight -= 1


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # injected resets and drops break pipes on purpose


class FakeServer:
    """A running loopback server (``with FakeServer(services) as srv: srv.allen_url``)."""

    def __init__(self, services: FakeServices, port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"services": services})
        self.services = services
        self.httpd = _QuietServer(("127.0.0.1", port), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def allen_url(self) -> str:
        """Base URL of the Allen API stand-in."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def dandi_url(self) -> str:
        """Base URL of the DANDI API stand-in."""
        return f"{self.allen_url}/api"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def main(argv: list[str] | None = None) -> None:
    """Serve both stand-ins until Ctrl-C (or ``--seconds``)."""
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--shared", type=Path, default=HERE.parents[2] / "shared" / "data")
    ap.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="patchatlas-fake-") as tmp:
        services = FakeServices(args.shared, Path(tmp))
        with FakeServer(services, args.port) as srv:
            print(f"Allen API stand-in: {srv.allen_url}   DANDI API stand-in: {srv.dandi_url}")
            print(f"export PATCHATLAS_ALLEN_API={srv.allen_url}")
            print(f"export PATCHATLAS_DANDI_API={srv.dandi_url}")
            sys.stdout.flush()
            try:
                if args.seconds is None:
                    while True:
                        time.sleep(3600)
                else:
                    time.sleep(args.seconds)
            except KeyboardInterrupt:
                pass


if __name__ == "__main__":
    main()
