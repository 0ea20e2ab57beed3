/* Cell page: the stored biophysical model sweeps overlaid on the recorded sweeps they were fitted
   to (aligned at the stimulus onset). Nothing is simulated in the browser or the server. */
"use strict";
(async function () {
  const idEl = document.getElementById("cell-id"), panel = document.getElementById("biophys-overlay-panel");
  if (!idEl || !panel) return;
  const base = "/api/cells/" + PA.cellPath(idEl.dataset.cell);
  let d;
  try { d = await PA.api(base + "/models/biophysical"); } catch (e) { return; }
  if (!d.models.length) { panel.dataset.ready = "1"; return; }
  panel.hidden = false;
  const sel = document.getElementById("biophys-model"), box = document.getElementById("biophys-overlays");
  sel.innerHTML = d.models.map((m, k) => `<option value="${k}">${PA.esc(m.name)}</option>`).join("");
  const table = (await PA.api(base + "/sweeps?limit=1000")).items;
  async function show(k) {
    const m = d.models[k];
    document.getElementById("biophys-info").textContent = `${m.model_kind || ""}, ${m.n_fitted} fitted, total error ${PA.fmt(m.total_error, 3)} SD`;
    box.innerHTML = "";
    let drawn = 0;
    for (const s of m.sweeps || []) {
      const row = table.find((r) => (s.data_sweeps || []).includes(r.number) && r.kind === "long_square");
      const canvas = document.createElement("canvas");
      canvas.width = 900; canvas.height = 240; canvas.className = "biophys-overlay";
      const title = document.createElement("div");
      title.className = "muted"; title.textContent = `${PA.fmt(s.amplitude_pa, 4)} pA: model (red)` + (row ? ` vs recorded sweep ${row.number} (blue)` : " (recorded sweep not in the atlas)");
      box.append(title, canvas);
      const series = [{x: s.t_s, y: s.v_mv, color: "#dc2626"}];
      if (row) {
        try {
          const tr = await PA.api(`${base}/sweeps/${row.index}?points=3000`);
          const t0 = row.start_s ?? 0;
          series.unshift({x: tr.t.map((t) => t - t0), y: tr.v, color: "#1d4ed8"});
        } catch (e) { /* trace unavailable: the model alone */ }
      }
      PA.xyPlot(canvas, series, {xlabel: "time from stimulus onset (s)", ylabel: "mV"});
      drawn += 1;
    }
    panel.dataset.overlays = String(drawn);
  }
  sel.addEventListener("change", () => show(+sel.value));
  await show(0);
  panel.dataset.ready = "1";
})();
