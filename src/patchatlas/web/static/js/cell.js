/* Cell page: sweep browser (response + stimulus, stored spikes), f-I and phase plot from the stored
   analysis, features, QC. */
"use strict";
(async function () {
  const id = document.getElementById("cell-id").dataset.cell, base = "/api/cells/" + PA.cellPath(id);
  const info = await PA.api(base);
  if (!info.has_morphology) document.getElementById("morph-link").hidden = true;
  if (!info.n_recordings) document.getElementById("nwb-link").hidden = true;
  PA.table(document.getElementById("annotations"), Object.entries(info.annotations || {}).map(([k, v]) => ({key: k, value: v})), ["key", "value"], {empty: "No annotations."});
  PA.api(base + "/qc").then((d) => PA.table(document.getElementById("qc"), d.qc, ["sweep_number", "check", "passed", "value", "message"], {empty: "No QC results stored for this cell."}));
  // biophysical fits keep their model sweeps in fit_scores (cell_biophys.js overlays them): show the total error only
  PA.api(base + "/models").then((d) => PA.table(document.getElementById("models"), d.models.map((m) => m.kind === "biophysical" ? {...m, fit_scores: {total_error: (m.fit_scores || {}).total_error}} : m), ["kind", "name", "fit_scores"], {empty: "No models fitted to this cell."}));

  // features with definitions
  const level = document.getElementById("level");
  async function loadFeatures() {
    const d = await PA.api(base + "/features?level=" + level.value);
    const cols = level.value === "cell" ? ["name", "value", "unit", "native_name", "definition"] : ["sweep_number", "spike_index", "name", "value", "unit", "definition"];
    PA.table(document.getElementById("features"), d.ephys.slice(0, 2000), cols, {empty: `No ${level.value}-level ephys features stored for this cell.`});
  }
  level.addEventListener("change", loadFeatures); loadFeatures();

  // sweep browser
  const tab = await PA.api(base + "/sweeps");
  const sweeps = tab.items, selEl = document.getElementById("sweep-select"), empty = document.getElementById("sweep-empty");
  if (!sweeps.length) { empty.hidden = false; empty.textContent = "This cell has no sweeps in the atlas (imported features only)."; }
  selEl.innerHTML = sweeps.map((s) => `<option value="${s.index}">${s.index}: sweep ${s.number} ${PA.esc(s.kind)} ${s.amplitude_pa === null ? "" : PA.fmt(s.amplitude_pa, 4) + " pA"}</option>`).join("");
  let vPlot = null, iPlot = null;
  const width = () => Math.max(400, document.getElementById("sweep-plot").clientWidth - 10);
  async function showSweep(k) {
    let d;
    try { d = await PA.api(`${base}/sweeps/${k}?points=3000`); }
    catch (e) { empty.hidden = false; empty.textContent = "Trace unavailable: " + e.message; return; }
    empty.hidden = true;
    // spike markers: the stored spikes of this sweep (the analysis behind its features), at
    // their peaks; filled in the stimulus window, hollow outside it
    const inY = d.t.map(() => null), outY = d.t.map(() => null);
    const nearest = (ts) => { let lo = 0, hi = d.t.length - 1; while (hi - lo > 1) { const m = (lo + hi) >> 1; d.t[m] < ts ? (lo = m) : (hi = m); } return Math.abs(d.t[hi] - ts) < Math.abs(d.t[lo] - ts) ? hi : lo; };
    const stored = d.spikes || [];
    for (const s of stored) {
      const ts = s.peak_t ?? s.threshold_t; if (ts === null || ts === undefined || !d.t.length) continue;
      const j = nearest(ts), y = s.peak_v ?? s.threshold_v ?? d.v[j];
      (s.in_window === false ? outY : inY)[j] = y;
    }
    const nIn = stored.filter((s) => s.in_window !== false).length, nOut = stored.length - nIn;
    const vOpts = {width: width(), height: 260, title: "Response (mV)", scales: {x: {time: false}},
      series: [{label: "t (s)"}, {label: "V (mV)", stroke: "#1d4ed8", width: 1},
        {label: "spikes (stimulus window)", stroke: "transparent", points: {show: true, size: 7, fill: "#dc2626", stroke: "#dc2626"}},
        {label: "spikes (outside)", stroke: "transparent", points: {show: true, size: 7, fill: "#fff", stroke: "#6b7280", width: 1.5}}],
      axes: [{label: "time (s)"}, {label: "mV"}]};
    const iOpts = {width: width(), height: 140, title: "Stimulus (pA)", scales: {x: {time: false}},
      series: [{label: "t (s)"}, {label: "I (pA)", stroke: "#059669", width: 1}], axes: [{label: "time (s)"}, {label: "pA"}]};
    if (vPlot) vPlot.destroy(); if (iPlot) iPlot.destroy();
    vPlot = new uPlot(vOpts, [d.t, d.v, inY, outY], document.getElementById("sweep-plot"));
    const iData = d.i || d.t.map(() => null);
    iPlot = new uPlot(iOpts, [d.t, iData], document.getElementById("stim-plot"));
    const plotEl = document.getElementById("sweep-plot");
    plotEl.dataset.points = String(d.t.length);
    plotEl.dataset.spikes = String(stored.length);
    plotEl.dataset.spikesInWindow = String(nIn);
    const spikeText = d.n_spikes === null && !stored.length ? "no stored features for this sweep"
      : `${nIn} spikes in the stimulus window${nOut ? `, ${nOut} outside` : ""} (${d.spike_source})`;
    document.getElementById("sweep-info").textContent = `${d.stimulus.kind}, ${d.n_samples} samples at ${PA.fmt(d.sampling_rate_hz / 1000, 4)} kHz (${d.n_points} drawn), ${spikeText}`;
  }
  selEl.addEventListener("change", () => showSweep(+selEl.value));
  const step = (k) => { const o = selEl.selectedIndex + k; if (o >= 0 && o < sweeps.length) { selEl.selectedIndex = o; showSweep(+selEl.value); } };
  document.getElementById("prev").addEventListener("click", () => step(-1));
  document.getElementById("next").addEventListener("click", () => step(1));

  const fi = await PA.api(base + "/fi").catch((e) => ({points: [], source: "none", message: e.message}));
  document.getElementById("fi-source").textContent = fi.points.length ? "(long squares, " + fi.source + ")" : "";
  if (!fi.points.length || !PA.xyPlot(document.getElementById("fi"), [{x: fi.points.map((p) => p.amplitude_pa), y: fi.points.map((p) => p.rate_hz), points: true, color: "#7c3aed"}], {xlabel: "stimulus amplitude (pA)", ylabel: "rate (Hz)"})) {
    const e = document.getElementById("fi-empty"); e.hidden = false;
    e.textContent = "No f-I curve: " + (fi.message || "no long-square sweeps") + ".";
  }
  // show the first long-square sweep that fires (the rheobase-ish one), matched by recording
  // and sweep number
  let first = 0;
  const steps = sweeps.filter((s) => String(s.kind) === "long_square");
  if (steps.length) {
    const firing = fi.points.find((p) => p.rate_hz > 0);
    const pick = firing ? steps.find((s) => s.recording_id === firing.recording_id && s.number === firing.sweep_number) : null;
    first = (pick || steps[Math.floor(steps.length / 2)]).index;
  }
  if (sweeps.length) { selEl.value = String(first); await showSweep(first); }
  if (sweeps.length) {
    const ph = await PA.api(`${base}/sweeps/${first}/phase`).catch(() => ({phase: null}));
    if (ph.phase && PA.xyPlot(document.getElementById("phase"), [{x: ph.phase.v, y: ph.phase.dvdt, color: "#b91c1c"}], {xlabel: "V (mV)", ylabel: "dV/dt (V/s)"})) {
      document.getElementById("phase-info").textContent = `sweep index ${first}, stored spike ${ph.phase.spike_index} (threshold at ${PA.fmt(ph.phase.threshold_t, 5)} s)`;
    } else { const e = document.getElementById("phase-empty"); e.hidden = false; e.textContent = "No stored action potential in the displayed sweep."; }
  } else { const e = document.getElementById("phase-empty"); e.hidden = false; e.textContent = "No sweeps stored."; }
  document.body.dataset.ready = "1";
})().catch((e) => { document.body.insertAdjacentHTML("beforeend", `<p class="empty">Error: ${PA.esc(e.message)}</p>`); document.body.dataset.ready = "error"; });
