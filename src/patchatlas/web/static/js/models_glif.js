/* GLIF section (models_glif.html): stored GLIF models with their held-out scores, and one
   model's voltage over a recorded held-out sweep (simulated by the library on that sweep's
   stimulus: /api/cells/{id}/models/{model_id}/trace). */
"use strict";
(async function () {
  const sec = document.getElementById("glif-section");
  if (!sec) return;
  const cell = sec.dataset.cell || "";
  const d = await PA.api("/api/models/glif" + (cell ? "?cell=" + encodeURIComponent(cell) : ""));
  const rows = d.models || [];
  if (!rows.length) { if (cell) sec.hidden = true; else document.getElementById("glif-empty").hidden = false; sec.dataset.ready = "1"; return; }
  const cols = ["cell_id", "name", "test_count_relative", "lif_count_relative", "test_gamma_4ms", "test_ev_10ms", "lif_ev_10ms", "test_ev_ratio_10ms"];
  PA.table(document.getElementById("glif-models"), rows, cols, {html: {cell_id: (v) => `<a href="/cells/${PA.cellPath(v)}">${PA.esc(v)}</a>`}});
  const pick = document.getElementById("glif-pick"), info = document.getElementById("glif-info");
  pick.innerHTML = rows.map((r, k) => `<option value="${k}">${PA.esc(r.cell_id)} · ${PA.esc(r.name)}</option>`).join("");
  let plot = null;
  async function show(k) {
    const r = rows[k];
    let t;
    try { t = await PA.api(`/api/cells/${PA.cellPath(r.cell_id)}/models/${r.model_id}/trace?points=3000`); }
    catch (e) { info.textContent = "trace unavailable: " + e.message; return; }
    info.textContent = `sweep ${t.sweep_number}${t.held_out ? " (held out)" : ""}: ${t.model_spike_times.length} model spikes; ${r.identifiability || ""}`;
    const opts = {width: Math.max(400, sec.clientWidth - 20), height: 260, scales: {x: {time: false}},
      series: [{label: "t (s)"}, {label: "data (mV)", stroke: "#9ca3af", width: 1}, {label: "model (mV)", stroke: "#1d4ed8", width: 1},
        {label: "threshold (mV)", stroke: "#dc2626", width: 1, dash: [4, 3]}],
      axes: [{label: "time (s)"}, {label: "mV"}]};
    if (plot) plot.destroy();
    plot = new uPlot(opts, [t.t, t.v_data, t.v_model, t.threshold], document.getElementById("glif-trace"));
    document.getElementById("glif-trace").dataset.points = String(t.t.length);
  }
  document.getElementById("glif-trace-panel").hidden = false;
  pick.addEventListener("change", () => show(+pick.value));
  await show(0);
  sec.dataset.ready = "1";
})();
