/* Cell page: the cell's type assignments (t-, e-, m-, me-types) with their confidence. */
"use strict";
(async function () {
  const el = document.getElementById("celltypes");
  if (!el) return;
  const id = document.getElementById("cell-id").dataset.cell;
  try {
    const d = await PA.api(`/api/cells/${PA.cellPath(id)}/celltypes`);
    PA.table(el, d.assignments.map((a) => ({type: `${a.kind}-type (${a.level})`, label: a.label, confidence: a.confidence, method: a.method, run: a.run})),
      ["type", "label", "confidence", "method", "run"],
      {empty: "No type assignment stored (patchatlas celltypes … --atlas URL).",
       html: {label: (v, r) => `<a href="/celltypes?run=${encodeURIComponent(r.run)}&label=${encodeURIComponent(v)}">${PA.esc(v)}</a>`}});
  } catch (e) { el.innerHTML = `<p class="empty">${PA.esc(e.message)}</p>`; }
  el.dataset.ready = "1";
})();
