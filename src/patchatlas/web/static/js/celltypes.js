/* Cell types page: typing runs, per-type summaries, confusion against t-types, one type's features. */
"use strict";
(async function () {
  const runSel = document.getElementById("ct-run"), agSel = document.getElementById("ct-against");
  const params = new URLSearchParams(location.search);
  const d = await PA.api("/api/celltypes");
  if (!d.runs.length) { document.getElementById("ct-empty").hidden = false; document.getElementById("ct-confusion-panel").hidden = true; document.body.dataset.ready = "1"; return; }
  runSel.innerHTML = d.runs.map((r) => `<option value="${PA.esc(r.name)}">${PA.esc(r.name)} (${PA.esc(r.kind)}-types, ${PA.esc(r.level)}, ${r.n_cells} cells)</option>`).join("");
  if (params.get("run")) runSel.value = params.get("run"); else runSel.value = d.runs[d.runs.length - 1].name;

  function scoreText(s) {
    if (!s || typeof s !== "object") return "";
    return Object.entries(s).filter(([, v]) => v !== null).map(([k, v]) => typeof v === "object" && v && "mean" in v ? `${k} ${PA.fmt(v.mean, 3)} (${PA.fmt(v.ci_low, 3)}–${PA.fmt(v.ci_high, 3)})` : `${k} ${PA.fmt(v, 3)}`).join("; ");
  }
  async function showType(label) {
    const q = new URLSearchParams({run: runSel.value, label, against: agSel.value});
    const t = await PA.api("/api/celltypes/type?" + q);
    document.getElementById("ct-type-panel").hidden = false;
    document.getElementById("ct-label").textContent = t.label;
    document.getElementById("ct-type-info").textContent = `${t.n_cells} cells, mean confidence ${PA.fmt(t.mean_confidence, 3)}`;
    const f = t.features, cv = document.getElementById("ct-features");
    if (f.length) {
      const z = (e, k) => e[k] && e[k].median !== null ? (e[k].median - e.all.median) / ((e.all.q3 - e.all.q1) || 1) : NaN;
      const lo = (e, k, w) => e[k] && e[k][w] !== null ? (e[k][w] - e.all.median) / ((e.all.q3 - e.all.q1) || 1) : NaN;
      PA.xyPlot(cv, [
        {x: f.map((_, i) => i - 0.12), y: f.map((e) => z(e, "all")), lo: f.map((e) => lo(e, "all", "q1")), hi: f.map((e) => lo(e, "all", "q3")), line: false, points: true, color: "#94a3b8"},
        {x: f.map((_, i) => i + 0.12), y: f.map((e) => z(e, "type")), lo: f.map((e) => lo(e, "type", "q1")), hi: f.map((e) => lo(e, "type", "q3")), line: false, points: true, color: "#0f766e"},
      ], {xticks: f.map((e) => e.feature), xlabel: "feature (median and quartiles, in units of the typed cells' IQR from their median)", ylabel: "relative value"});
    } else { cv.getContext("2d").clearRect(0, 0, cv.width, cv.height); }
    PA.table(document.getElementById("ct-feature-table"), f.map((e) => ({feature: e.feature, AUC: e.auc, "Cohen's d": e.cohens_d, "median (type)": e.median_type, "median (other cells)": e.median_rest})), null, {empty: "No numerical feature for these cells."});
    PA.table(document.getElementById("ct-composition"), t.composition, ["name", "n"]);
    PA.table(document.getElementById("ct-cells"), t.cells, ["cell", "confidence"], {html: {cell: (v) => `<a href="/cells/${PA.cellPath(v)}">${PA.esc(v)}</a>`}});
    document.getElementById("ct-type-panel").dataset.ready = "1";
  }
  async function load() {
    const r = d.runs.find((x) => x.name === runSel.value);
    document.getElementById("ct-run-info").textContent = `${r.kind}-types by ${r.method} at level ${r.level}; ${r.n_cells} cells; patchatlas ${r.package_version}. ${scoreText(r.scores)}`;
    const q = new URLSearchParams({run: runSel.value, against: agSel.value});
    const t = await PA.api("/api/celltypes/types?" + q);
    PA.table(document.getElementById("ct-types"), t.types, ["label", "n_cells", "mean_confidence", "median_confidence"],
      {html: {label: (v) => `<a href="#" data-label="${PA.esc(v)}">${PA.esc(v)}</a>`}});
    const c = t.confusion, cols = c.columns.slice(0, 40);
    const rows = c.rows.map((name, i) => Object.fromEntries([["type", name], ...cols.map((col, j) => [col, c.counts[i][j]])]));
    PA.table(document.getElementById("ct-confusion"), rows, ["type", ...cols], {empty: "No typed cell has a published label."});
    document.body.dataset.ready = "1";
  }
  document.getElementById("ct-types").addEventListener("click", (e) => { const l = e.target.dataset.label; if (l) { e.preventDefault(); showType(l); } });
  runSel.addEventListener("change", async () => { document.getElementById("ct-type-panel").hidden = true; await load(); });
  agSel.addEventListener("change", load);
  await load();
  if (params.get("label")) await showType(params.get("label"));
})();
