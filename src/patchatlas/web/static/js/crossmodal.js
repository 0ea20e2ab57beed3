/* Expression -> physiology: stored crossmodal benchmark (R² per feature per regime, predicted vs observed). */
"use strict";
(async function () {
  const d = await PA.api("/api/crossmodal");
  const body = document.getElementById("xm-body"), empty = document.getElementById("xm-empty");
  if (!d.run) { empty.hidden = false; document.getElementById("xm-panel").dataset.ready = "1"; return; }
  body.hidden = false;
  document.getElementById("xm-run").textContent = `run ${d.run.name} (dataset ${d.run.dataset || "?"}, patchatlas ${d.run.package_version})`;
  const feats = d.features, specs = d.specs;
  const cell = {};
  for (const r of d.r2) cell[r.spec + "\u0000" + r.feature] = r;
  const rows = feats.map((f) => { const o = {feature: f}; for (const s of specs) { const r = cell[s + "\u0000" + f]; o[s] = r ? r.r2 : null; } return o; });
  rows.push(Object.assign({feature: "mean over features"}, d.mean_r2));
  PA.table(document.getElementById("xm-table"), rows, ["feature"].concat(specs));
  const colors = ["#2563eb", "#dc2626", "#0f766e", "#a16207", "#7c3aed", "#db2777", "#475569", "#65a30d"];
  const series = specs.map((s, k) => ({x: feats.map((_, i) => i + (k - (specs.length - 1) / 2) * 0.08), y: feats.map((f) => { const r = cell[s + "\u0000" + f]; return r ? r.r2 : NaN; }), line: false, points: true, color: colors[k % colors.length]}));
  PA.xyPlot(document.getElementById("xm-r2"), series, {xticks: feats, xlabel: "feature", ylabel: "R²"});
  document.getElementById("xm-legend").innerHTML = specs.map((s, k) => `<span class="xm-key"><span style="color:${colors[k % colors.length]}">●</span> ${PA.esc(s)}</span>`).join(" ");
  const fSel = document.getElementById("xm-feature"), sSel = document.getElementById("xm-spec");
  const best = d.best || {spec: specs[0], features: feats.slice(0, 4)};
  const order = best.features.concat(feats.filter((f) => !best.features.includes(f)));
  fSel.innerHTML = order.map((f, i) => `<option value="${PA.esc(f)}">${PA.esc(f)}${i < best.features.length ? " (best)" : ""}</option>`).join("");
  sSel.innerHTML = specs.map((s) => `<option${s === best.spec ? " selected" : ""}>${PA.esc(s)}</option>`).join("");
  async function scatter() {
    const q = new URLSearchParams({feature: fSel.value, spec: sSel.value});
    const p = await PA.api("/api/crossmodal/predictions?" + q);
    const cv = document.getElementById("xm-scatter"), none = document.getElementById("xm-nopred");
    if (!p.points.length) { cv.hidden = true; none.hidden = false; return; }
    cv.hidden = false; none.hidden = true;
    const x = p.points.map((r) => r.observed ?? NaN), y = p.points.map((r) => r.predicted ?? NaN);
    const fin = x.concat(y).filter(Number.isFinite), lo = Math.min(...fin), hi = Math.max(...fin);
    PA.xyPlot(cv, [{x: [lo, hi], y: [lo, hi], color: "#99a"}, {x, y, line: false, points: true, color: "#2563eb"}], {xlabel: `observed ${p.feature}`, ylabel: `predicted (${p.spec})`});
    document.getElementById("xm-pred-r2").textContent = `n = ${p.n}, R² = ${PA.fmt(p.r2, 3)}`;
  }
  fSel.addEventListener("change", scatter); sSel.addEventListener("change", scatter);
  await scatter();
  document.getElementById("xm-panel").dataset.ready = "1";
})();
