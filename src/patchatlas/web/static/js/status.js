/* Ingest status and provenance page. */
"use strict";
(async function () {
  const [ds, runs, errs, prov] = await Promise.all(["/api/datasets", "/api/ingest/runs", "/api/ingest/errors", "/api/provenance"].map((u) => PA.api(u)));
  PA.table(document.getElementById("datasets"), ds.datasets, ["name", "n_cells", "title", "citation", "doi", "licence", "imported_at"], {empty: "No dataset recorded.", html: {doi: (v) => (v ? `<a href="https://doi.org/${PA.esc(v)}" rel="noopener">${PA.esc(v)}</a>` : "–")}});
  PA.table(document.getElementById("runs"), runs.runs, ["id", "source", "started_at", "finished_at", "n_done", "n_skipped", "n_failed", "package_version"], {empty: "No ingest run recorded (imported tables are listed under datasets)."});
  document.getElementById("n-failed").textContent = errs.n_failed;
  document.getElementById("n-failed").className = "pill " + (errs.n_failed ? "bad" : "ok");
  PA.table(document.getElementById("errors"), errs.errors, ["cell_name", "path", "stage", "error_type", "reason", "created_at"], {empty: "No file failed to ingest."});
  PA.table(document.getElementById("provenance"), prov.provenance, ["id", "engine", "package_version", "created_at", "n_features", "n_qc", "n_morphologies", "n_labels", "parameters"], {empty: "No provenance recorded.", html: {parameters: (v) => `<details><summary>parameters</summary><pre style="white-space:pre-wrap;font-size:11px">${PA.esc(JSON.stringify(v, null, 1))}</pre></details>`}});
  document.body.dataset.ready = "1";
})().catch((e) => { document.querySelector("main").insertAdjacentHTML("beforeend", `<p class="empty">Error: ${PA.esc(e.message)}</p>`); document.body.dataset.ready = "error"; });
