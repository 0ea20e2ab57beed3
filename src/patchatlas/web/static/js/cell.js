/* Cell page: annotation origins, datasets with citation and licence, QC and range flags, the
   transcriptome against its type, features on the type's distributions, a morphology thumbnail,
   the sweep browser (grouped by stimulus kind, overlays, stored spikes), f-I, phase plot and the
   feature table with units and origins. Everything comes from the REST API. */
"use strict";
(async function () {
  const id = document.getElementById("cell-id").dataset.cell, base = "/api/cells/" + PA.cellPath(id);
  const $ = (x) => document.getElementById(x);
  const info = await PA.api(base);

  // ---- annotation origins: which dataset and table each value came from
  const byField = {};
  for (const l of info.labels || []) (byField[l.field] = byField[l.field] || []).push(l);
  document.querySelectorAll("#annotations-table tr[data-field]").forEach((tr) => {
    const ls = byField[tr.dataset.field]; if (!ls) return;
    tr.querySelector(".origin").innerHTML = ls.map((l) => {
      const native = l.native !== null && l.native !== l.value ? ` · as <q>${PA.esc(l.native)}</q>` : "";
      const val = ls.length > 1 || l.value === null ? `<b>${PA.esc(l.value === null ? "(none)" : l.value)}</b> ` : "";
      return `<div>${val}from ${PA.esc(l.dataset || "?")} · ${PA.esc(l.source || "")}${native}</div>`;
    }).join("");
  });

  // ---- datasets with citation and licence
  const ds = info.datasets || [];
  $("datasets").innerHTML = ds.length ? ds.map((d) => `<div class="dataset" data-dataset="${PA.esc(d.name)}"><b>${PA.esc(d.title || d.name)}</b> <span class="pill">${PA.esc(d.name)}</span>
      ${d.citation ? `<div>${PA.esc(d.citation)}${d.doi ? ` · <a href="https://doi.org/${PA.esc(d.doi)}" rel="noopener">doi:${PA.esc(d.doi)}</a>` : ""}</div>` : ""}
      ${d.licence ? `<div class="muted">Licence: ${PA.esc(d.licence)}</div>` : ""}
      ${d.tables ? `<div class="muted">Tables: ${Object.entries(d.tables).map(([k, v]) => `${PA.esc(k)}: ${PA.esc(v)}`).join("; ")}</div>` : ""}
      ${d.url ? `<div><a href="${PA.esc(d.url)}" rel="noopener">source repository</a></div>` : ""}</div>`).join("<hr>")
    : `<p class="muted">${info.files && info.files.length ? "Ingested from the lab's own files: " + info.files.map((f) => PA.esc(f.path)).join(", ") : "No dataset recorded."}</p>`;

  // ---- QC
  const st = info.qc_status || "not checked";
  $("qc-status").innerHTML = `<span class="pill ${st === "passed" ? "ok" : st === "failed" ? "bad" : ""}" id="qc-pill">${PA.esc(st)}</span>`;
  const flags = [];
  if (info.qc_failed) flags.push(`<p>Failed checks: <b>${PA.esc(info.qc_failed)}</b></p>`);
  for (const f of info.out_of_range || []) flags.push(`<p class="flag" data-flag="${PA.esc(f.feature)}">${PA.esc(f.feature)} = ${PA.fmt(f.value, 4)} ${PA.esc(f.unit)} <span class="why">outside the physiological range ${PA.fmt(f.low, 4)} … ${PA.fmt(f.high, 4)} ${PA.esc(f.unit)} (${PA.esc(f.note)}): shown, and excluded from the type distributions</span></p>`);
  $("qc-flags").innerHTML = flags.join("") || '<p class="muted">No failed check and no value outside its physiological range.</p>';
  PA.api(base + "/qc").then((d) => PA.table($("qc"), d.qc, ["sweep_number", "check", "passed", "value", "message"], {empty: "No QC results stored for this cell."}));
  // biophysical fits keep their model sweeps in fit_scores (cell_biophys.js overlays them): show the total error only
  PA.api(base + "/models").then((d) => PA.table($("models"), d.models.map((m) => m.kind === "biophysical" ? {...m, fit_scores: {total_error: (m.fit_scores || {}).total_error}} : m), ["kind", "name", "fit_scores"], {empty: "No models fitted to this cell."})).catch(() => {});
  PA.table($("annotations"), Object.entries(info.annotations || {}).map(([k, v]) => ({key: k, value: v})), ["key", "value"], {empty: "No annotations."});

  // ---- transcriptome
  async function loadTx() {
    if (!$("tx-panel")) return;
    const d = await PA.api(`${base}/transcriptome?by=${$("tx-by").value}`);
    const s = d.samples[0] || {};
    $("tx-summary").innerHTML = `<p>t-type <b>${PA.esc(d.t_type || "–")}</b>${d.t_type_confidence !== null ? ` (confidence ${PA.fmt(d.t_type_confidence, 3)})` : ""} · subclass ${PA.esc(d.subclass || "–")} · library size ${PA.fmt(s.library_size, 6)} reads · ${PA.fmt(s.genes_detected, 6)} genes detected · sample <code>${PA.esc(s.sample_id || "–")}</code> in <code>${PA.esc(s.dataset || "–")}</code> (${PA.fmt(s.n_genes, 6)} genes)</p>`;
    if (!d.genes.length) { $("tx-empty").hidden = false; $("tx-empty").textContent = d.message || "No expression profile."; return; }
    $("tx-empty").hidden = true;
    $("tx-ref").textContent = d.reference ? `vs ${d.reference.name || "?"} (${d.reference.n_cells} cells)` : "";
    const peak = Math.max(1, ...d.genes.map((g) => Math.max(g.cpm || 0, g.type_mean_cpm || 0)));
    const rows = (gs) => `<table><tr><th>gene</th><th>marks</th><th class="num">CPM</th><th class="num">type mean</th><th>this cell / type mean</th></tr>` + gs.map((g) => {
      const w = (x) => (100 * Math.sqrt((x || 0) / peak)).toFixed(1);
      return `<tr data-gene="${PA.esc(g.gene)}"><td>${PA.esc(g.gene)}</td><td class="muted">${PA.esc(d.markers[g.gene] || "")}</td><td class="num">${PA.fmt(g.cpm, 4)}</td><td class="num">${PA.fmt(g.type_mean_cpm, 4)}</td>
        <td class="bar-cell"><span class="bar" style="width:${w(g.cpm)}%"></span><br><span class="bar ref" style="width:${w(g.type_mean_cpm)}%"></span></td></tr>`;
    }).join("") + "</table>";
    $("tx-markers").innerHTML = rows(d.genes.filter((g) => g.marker));
    $("tx-top").innerHTML = rows(d.genes.filter((g) => !g.marker));
  }
  if ($("tx-by")) $("tx-by").addEventListener("change", loadTx);
  const txDone = loadTx().catch((e) => { $("tx-empty").hidden = false; $("tx-empty").textContent = "Transcriptome unavailable: " + e.message; });

  // ---- features on the type's distributions
  async function loadCtx() {
    const d = await PA.api(`${base}/context?by=${$("ctx-by").value}`);
    $("ctx-group").textContent = d.group ? `${d.group}` : "";
    const box = $("ctx"), empty = $("ctx-empty");
    if (!d.group || !d.features.length) { box.innerHTML = ""; empty.hidden = false; empty.textContent = d.group ? "This cell has none of the summary features." : "This cell has no type at this level."; return; }
    empty.hidden = true;
    box.innerHTML = d.features.map((f, k) => `<figure><canvas id="ctx-${k}" width="300" height="80" role="img" aria-label="${PA.esc(f.feature)}: ${PA.fmt(f.value, 4)} ${PA.esc(f.unit || "")}, percentile ${PA.fmt(f.percentile, 3)} of ${f.n} cells"></canvas><figcaption><b>${PA.esc(f.feature)}</b> ${f.flagged ? '<span class="flag">' : ""}${PA.fmt(f.value, 4)} ${PA.esc(f.unit || "")}${f.flagged ? " (outside range)</span>" : ""} · ${f.percentile === null ? "–" : PA.fmt(f.percentile, 3) + "th percentile"} of ${f.n} · median ${PA.fmt(f.median, 4)}</figcaption></figure>`).join("");
    d.features.forEach((f, k) => {
      const cv = $("ctx-" + k), ctx = cv.getContext("2d"), W = cv.width, H = cv.height;
      ctx.clearRect(0, 0, W, H);
      if (!f.counts.length) return;
      const peak = Math.max(...f.counts, 1), n = f.counts.length, lo = f.edges[0], hi = f.edges[n];
      const px = (x) => 4 + (x - lo) / (hi - lo) * (W - 8);
      f.counts.forEach((c, b) => { ctx.fillStyle = "#c7d2fe"; const x0 = px(f.edges[b]), x1 = px(f.edges[b + 1]); ctx.fillRect(x0, H - 14 - (H - 22) * c / peak, Math.max(1, x1 - x0 - 1), (H - 22) * c / peak); });
      ctx.strokeStyle = "#64748b"; ctx.beginPath(); ctx.moveTo(px(f.q1), H - 8); ctx.lineTo(px(f.q3), H - 8); ctx.stroke();
      ctx.fillStyle = "#334155"; ctx.fillRect(px(f.median) - 1, H - 11, 2, 6);
      if (f.value !== null) { ctx.strokeStyle = f.flagged ? "#9aa3ad" : "#dc2626"; ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(px(f.value), 2); ctx.lineTo(px(f.value), H - 14); ctx.stroke(); ctx.lineWidth = 1; }
      ctx.fillStyle = "#667"; ctx.font = "9px sans-serif"; ctx.textAlign = "left"; ctx.fillText(PA.fmt(lo, 3), 2, H - 1); ctx.textAlign = "right"; ctx.fillText(PA.fmt(hi, 3), W - 2, H - 1);
      cv.dataset.drawn = String(f.n);
    });
  }
  $("ctx-by").addEventListener("change", loadCtx);
  const ctxDone = loadCtx().catch((e) => { $("ctx-empty").hidden = false; $("ctx-empty").textContent = e.message; });

  // ---- morphology thumbnail
  async function thumb() {
    const note = $("thumb-note");
    if (!info.has_morphology) { note.textContent = "No reconstruction in the atlas."; return; }
    let m;
    try { m = await PA.api(base + "/morphology"); } catch (e) { note.textContent = "No reconstruction in the atlas."; return; }
    const nf = Object.keys(m.features || {}).length;
    if (!m.swc_url) { note.innerHTML = `${nf} morphology features stored (see the feature table); no reconstruction file to draw. <a href="/cells/${PA.cellPath(id)}/morphology">Morphology page</a>`; return; }
    const link = $("swc-link"); link.href = m.swc_url; link.hidden = false; link.setAttribute("download", "");
    const nodes = await MV.load(m.swc_url);
    const cv = $("thumb"); cv.hidden = false;
    MV.draw(cv, nodes, "x", "y", {flipV: true, layers: m.layer_boundaries || [], pia: m.pia_y || 0});
    cv.setAttribute("aria-label", `Morphology thumbnail: front (x–y) projection of ${nodes.size} reconstruction nodes; axon blue, basal dendrite red, apical dendrite magenta`);
    note.innerHTML = `${nodes.size} nodes, ${nf} features · <a href="/cells/${PA.cellPath(id)}/morphology">open the 3-D viewer</a>`;
  }
  const thumbDone = thumb().catch((e) => { $("thumb-note").textContent = "Thumbnail unavailable: " + e.message; });

  // ---- features with units and origins (and CSV)
  const level = $("level");
  async function loadFeatures() {
    const d = await PA.api(base + "/features?level=" + level.value);
    $("csv-link").href = `${base}/features?format=csv&level=${level.value}`;
    const cols = level.value === "cell" ? ["name", "value", "unit", "native_name", "origin", "definition"] : ["recording_id", "sweep_number", "spike_index", "name", "value", "unit", "definition"];
    const flagged = new Set((info.out_of_range || []).map((f) => f.feature));
    PA.table($("features"), d.ephys.slice(0, 2000), cols, {empty: `No ${level.value}-level ephys features stored for this cell.`, html: {value: (v, r) => flagged.has(r.name) && level.value === "cell" ? `<span class="flag" title="outside the physiological range">${PA.esc(PA.fmt(v))}</span>` : PA.esc(PA.fmt(v))}});
    const morph = Object.entries(d.morphology || {});
    if (level.value === "cell" && morph.length) $("features").insertAdjacentHTML("beforeend", `<h3 class="muted">Morphology features (${morph.length})</h3><table>${morph.map(([k, v]) => `<tr><td>${PA.esc(k)}</td><td class="num">${PA.esc(PA.fmt(v))}</td></tr>`).join("")}</table>`);
  }
  level.addEventListener("change", loadFeatures);
  const featDone = loadFeatures();

  // ---- sweep browser (cells with recordings)
  if ($("sweep-select")) {
    const tab = await PA.api(base + "/sweeps");
    const sweeps = tab.items, selEl = $("sweep-select"), empty = $("sweep-empty");
    const kinds = [...new Set(sweeps.map((s) => String(s.kind)))];
    selEl.innerHTML = kinds.map((k) => `<optgroup label="${PA.esc(k)}">` + sweeps.filter((s) => String(s.kind) === k).map((s) => `<option value="${s.index}">sweep ${s.number}${s.amplitude_pa === null ? "" : " · " + PA.fmt(s.amplitude_pa, 4) + " pA"}</option>`).join("") + "</optgroup>").join("");
    const order = [...selEl.options].map((o) => +o.value);
    let vPlot = null, iPlot = null;
    const width = () => Math.max(280, $("sweep-plot").clientWidth - 10);
    const palette = ["#1d4ed8", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#be185d", "#4d7c0f"];
    async function showSweep(k) {
      const cur = sweeps.find((s) => s.index === k);
      const group = $("overlay").checked ? sweeps.filter((s) => s.kind === cur.kind).slice(0, 8) : [cur];
      if (!group.includes(cur)) group[group.length - 1] = cur;
      let ds;
      try { ds = await Promise.all(group.map((s) => PA.api(`${base}/sweeps/${s.index}?points=${group.length > 1 ? 1500 : 3000}`))); }
      catch (e) { empty.hidden = false; empty.textContent = "Trace unavailable: " + e.message; return; }
      empty.hidden = true;
      const d = ds[group.indexOf(cur)];
      // one shared time base: the selected sweep's; others are matched by nearest sample
      const t = d.t, nearest = (tt, ts) => { let lo = 0, hi = tt.length - 1; while (hi - lo > 1) { const m = (lo + hi) >> 1; tt[m] < ts ? (lo = m) : (hi = m); } return Math.abs(tt[hi] - ts) < Math.abs(tt[lo] - ts) ? hi : lo; };
      const resample = (o, key) => o === d ? d[key] : t.map((ts) => { const arr = o[key]; return arr ? arr[nearest(o.t, ts)] : null; });
      const inY = t.map(() => null), outY = t.map(() => null);
      const stored = d.spikes || [];
      for (const s of stored) {
        const ts = s.peak_t ?? s.threshold_t; if (ts === null || ts === undefined || !t.length) continue;
        const j = nearest(t, ts), y = s.peak_v ?? s.threshold_v ?? d.v[j];
        (s.in_window === false ? outY : inY)[j] = y;
      }
      const nIn = stored.filter((s) => s.in_window !== false).length, nOut = stored.length - nIn;
      const vSeries = [{label: "t (s)"}], vData = [t], iSeries = [{label: "t (s)"}], iData = [t];
      group.forEach((s, j) => {
        const o = ds[j], col = o === d ? "#1d4ed8" : palette[(j + 1) % palette.length];
        vSeries.push({label: `sweep ${s.number} (mV)`, stroke: col, width: o === d ? 1.2 : 0.8}); vData.push(resample(o, "v"));
        iSeries.push({label: `sweep ${s.number} (pA)`, stroke: col, width: 1}); iData.push(o.i ? resample(o, "i") : t.map(() => null));
      });
      vSeries.push({label: "spikes (stimulus window)", stroke: "transparent", points: {show: true, size: 7, fill: "#dc2626", stroke: "#dc2626"}}, {label: "spikes (outside)", stroke: "transparent", points: {show: true, size: 7, fill: "#fff", stroke: "#6b7280", width: 1.5}});
      vData.push(inY, outY);
      if (vPlot) vPlot.destroy(); if (iPlot) iPlot.destroy();
      vPlot = new uPlot({width: width(), height: 260, title: "Response (mV)", scales: {x: {time: false}}, series: vSeries, axes: [{label: "time (s)"}, {label: "mV"}]}, vData, $("sweep-plot"));
      iPlot = new uPlot({width: width(), height: 140, title: "Stimulus (pA)", scales: {x: {time: false}}, series: iSeries, axes: [{label: "time (s)"}, {label: "pA"}]}, iData, $("stim-plot"));
      const plotEl = $("sweep-plot");
      plotEl.dataset.points = String(t.length); plotEl.dataset.spikes = String(stored.length); plotEl.dataset.spikesInWindow = String(nIn); plotEl.dataset.overlaid = String(group.length);
      const spikeText = d.n_spikes === null && !stored.length ? "no stored features for this sweep" : `${nIn} spikes in the stimulus window${nOut ? `, ${nOut} outside` : ""} (${d.spike_source})`;
      $("sweep-info").textContent = `${d.stimulus.kind}, ${d.n_samples} samples at ${PA.fmt(d.sampling_rate_hz / 1000, 4)} kHz (${d.n_points} drawn), ${spikeText}${group.length > 1 ? `; ${group.length} sweeps overlaid` : ""}`;
      plotEl.setAttribute("aria-label", `Voltage response of sweep ${cur.number} (${d.stimulus.kind}); ${$("sweep-info").textContent}`);
    }
    selEl.addEventListener("change", () => showSweep(+selEl.value));
    $("overlay").addEventListener("change", () => showSweep(+selEl.value));
    const step = (k) => { const o = order.indexOf(+selEl.value) + k; if (o >= 0 && o < order.length) { selEl.value = String(order[o]); showSweep(order[o]); } };
    $("prev").addEventListener("click", () => step(-1));
    $("next").addEventListener("click", () => step(1));
    if (!sweeps.length) { empty.hidden = false; empty.textContent = "This cell has no sweeps in the atlas."; }
    const fi = await PA.api(base + "/fi").catch((e) => ({points: [], source: "none", message: e.message}));
    $("fi-source").textContent = fi.points.length ? "(long squares, " + fi.source + ")" : "";
    if (!fi.points.length || !PA.xyPlot($("fi"), [{x: fi.points.map((p) => p.amplitude_pa), y: fi.points.map((p) => p.rate_hz), points: true, color: "#7c3aed"}], {xlabel: "stimulus amplitude (pA)", ylabel: "rate (Hz)"})) {
      $("fi-empty").hidden = false; $("fi-empty").textContent = "No f-I curve: " + (fi.message || "no long-square sweeps") + ".";
    }
    let first = sweeps.length ? sweeps[0].index : 0;
    const steps = sweeps.filter((s) => String(s.kind) === "long_square");
    if (steps.length) {
      const firing = fi.points.find((p) => p.rate_hz > 0);
      const pick = firing ? steps.find((s) => s.recording_id === firing.recording_id && s.number === firing.sweep_number) : null;
      first = (pick || steps[Math.floor(steps.length / 2)]).index;
    }
    if (sweeps.length) {
      selEl.value = String(first); await showSweep(first);
      const ph = await PA.api(`${base}/sweeps/${first}/phase`).catch(() => ({phase: null}));
      if (ph.phase && PA.xyPlot($("phase"), [{x: ph.phase.v, y: ph.phase.dvdt, color: "#b91c1c"}], {xlabel: "V (mV)", ylabel: "dV/dt (V/s)"})) {
        $("phase-info").textContent = `sweep index ${first}, stored spike ${ph.phase.spike_index} (threshold at ${PA.fmt(ph.phase.threshold_t, 5)} s)`;
      } else { $("phase-empty").hidden = false; $("phase-empty").textContent = "No stored action potential in the displayed sweep."; }
    }
  }
  await Promise.all([txDone, ctxDone, thumbDone, featDone]);
  document.body.dataset.ready = "1";
})().catch((e) => { document.querySelector("main").insertAdjacentHTML("beforeend", `<p class="empty">Error: ${PA.esc(e.message)}</p>`); document.body.dataset.ready = "error"; });
