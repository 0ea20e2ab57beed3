/* Expression -> physiology at the type level. */
"use strict";
(async function () {
  const fSel = document.getElementById("feature"), bySel = document.getElementById("by");
  const counts = await PA.api("/api/types");
  PA.table(document.getElementById("type-counts"), counts.t_type_family, ["name", "n_cells"], {empty: "No cell has a t-type or subclass in this atlas."});
  async function load() {
    const q = new URLSearchParams({by: bySel.value}); if (fSel.value) q.set("feature", fSel.value);
    const d = await PA.api("/api/types/physiology?" + q);
    if (!fSel.options.length) fSel.innerHTML = (d.features || []).map((f) => `<option>${PA.esc(f)}</option>`).join("");
    if (d.feature) fSel.value = d.feature;
    const cv = document.getElementById("groups"), empty = document.getElementById("types-empty");
    document.getElementById("r2").textContent = d.r2 === null || d.r2 === undefined ? "" : `between-class R² = ${PA.fmt(d.r2, 3)}`;
    const g = d.groups.slice(0, 40);
    if (!g.length) { cv.hidden = true; empty.hidden = false; return; }
    cv.hidden = false; empty.hidden = true;
    PA.xyPlot(cv, [{x: g.map((_, k) => k), y: g.map((r) => r.median), lo: g.map((r) => r.q1), hi: g.map((r) => r.q3), line: false, points: true, color: "#0f766e"}], {xticks: g.map((r) => r.name), xlabel: `${bySel.options[bySel.selectedIndex].text} (median and quartiles; n = ${g.map((r) => r.n).join(", ")})`.slice(0, 140), ylabel: d.feature});
  }
  fSel.addEventListener("change", load); bySel.addEventListener("change", load);
  await load(); document.body.dataset.ready = "1";
})();
