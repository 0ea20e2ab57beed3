/* Models page, biophysical section: the stored fits (conductances, total and per-feature error). */
"use strict";
(async function () {
  const el = document.getElementById("biophys-models");
  if (!el) return;
  const d = await PA.api("/api/models/biophysical?limit=1000");
  if (!d.items.length) { document.getElementById("biophys-empty").hidden = false; el.dataset.ready = "1"; return; }
  const rows = d.items.map((m) => ({...m,
    fitted: Object.entries(m.fitted || {}).map(([k, v]) => `${k} = ${PA.fmt(v, 3)}`).join(", "),
    worst: Object.entries(m.errors || {}).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, v]) => `${k} ${PA.fmt(v, 2)}`).join(", ")}));
  PA.table(el, rows, ["cell_id", "name", "model_kind", "n_fitted", "total_error", "fitted", "worst"],
    {html: {cell_id: (v) => `<a href="/cells/${PA.cellPath(v)}">${PA.esc(v)}</a>`}});
  el.dataset.ready = "1";
})();
