"use strict";
(async function () {
  const id = document.getElementById("pair-info").dataset.pair;
  const d = await PA.api("/api/pairs/" + id + "/traces"), p = d.pair;
  document.getElementById("pair-title").textContent = `${p.pre_cell} → ${p.post_cell}`;
  const call = p.connected === null ? "not called" : (p.connected ? `connected (${p.synapse_type || "?"})` : "not connected");
  PA.table(document.getElementById("pair-info"), [{
    experiment: p.experiment, call, source: p.call_source, p_value: p.p_value, electrical: p.electrical,
    distance_um: p.distance_um, lateral_um: p.lateral_distance_um, ex_tests: p.n_ex_test_spikes,
    in_tests: p.n_in_test_spikes, status: p.status, problems: p.problems}]);
  PA.table(document.getElementById("measurements"), d.measurements, ["name", "value", "unit"]);
  const avg = document.getElementById("averages");
  const kinds = Object.keys(d.traces).filter((k) => k.startsWith("average:") || k.startsWith("resting:"));
  if (!kinds.length) document.getElementById("avg-empty").hidden = false;
  for (const k of kinds) {
    const t = d.traces[k], f = t.fit || {};
    const box = document.createElement("div");
    box.innerHTML = `<h3>${PA.esc(k)} (n = ${PA.esc(t.n)})</h3><p class="muted">amp ${PA.fmt(f.amp)} ${PA.esc(t.unit)}, latency ${PA.fmt(1e3 * f.latency, 3)} ms, rise ${PA.fmt(1e3 * f.rise_time, 3)} ms, decay τ ${PA.fmt(1e3 * f.decay_tau, 3)} ms, NRMSE ${PA.fmt(f.nrmse, 3)}</p><canvas width="640" height="220"></canvas>`;
    avg.appendChild(box);
    const ms = t.t.map((v) => v === null ? NaN : 1e3 * v), num = (a) => (a || []).map((v) => v === null ? NaN : v);
    const series = [{x: ms, y: num(t.y), color: "#555"}];
    if (t.fit_curve) series.push({x: ms, y: num(t.fit_curve), color: "#dc2626"});
    PA.xyPlot(box.querySelector("canvas"), series, {xlabel: "time after presynaptic spike (ms)", ylabel: t.unit});
  }
  const stp = d.traces.stp, el = document.getElementById("stp");
  if (!stp || !stp.pulses || !stp.pulses.length) { document.getElementById("stp-empty").hidden = false; }
  else {
    const groups = {};
    for (const r of stp.pulses) (groups[`${r.induction_frequency} Hz, ${r.recovery_delay === null ? "–" : 1e3 * r.recovery_delay + " ms"}`] ||= []).push(r);
    const colors = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c"];
    let ci = 0;
    for (const [name, rows] of Object.entries(groups)) {
      const box = document.createElement("div"), c = colors[ci++ % colors.length];
      box.innerHTML = `<h3>${PA.esc(name)}</h3><canvas width="640" height="200"></canvas>`;
      el.appendChild(box);
      const x = rows.map((r) => 1e3 * r.time);
      const series = [{x, y: rows.map((r) => r.mean), lo: rows.map((r) => r.mean - (r.std || 0) / Math.sqrt(r.n || 1)), hi: rows.map((r) => r.mean + (r.std || 0) / Math.sqrt(r.n || 1)), line: false, points: true, color: c}];
      if (rows[0].model !== undefined) series.push({x, y: rows.map((r) => r.model === null ? NaN : r.model), color: "#111"});
      PA.xyPlot(box.querySelector("canvas"), series, {xlabel: "time after the first pulse (ms)", ylabel: stp.unit, y0: 0});
    }
    if (stp.tm) { const tm = stp.tm, p2 = document.createElement("p"); p2.textContent = `Tsodyks–Markram: A ${PA.fmt(tm.amp)} ${stp.unit}, U ${PA.fmt(tm.U, 3)}, τ_rec ${PA.fmt(1e3 * tm.tau_rec, 3)} ms, τ_facil ${PA.fmt(1e3 * tm.tau_facil, 3)} ms, R² ${PA.fmt(tm.r2, 3)}`; el.appendChild(p2); }
  }
  document.body.dataset.ready = "1";
})();
