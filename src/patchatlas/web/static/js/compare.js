/* Compare 2-4 cells: features side by side (units), long-square sweeps at matched amplitudes
   overlaid, morphologies side by side. */
"use strict";
(async function () {
  const cells = JSON.parse(document.getElementById("compare-cells").dataset.cells || "[]");
  if (!cells.length) { document.body.dataset.ready = "1"; return; }
  const colors = ["#1d4ed8", "#dc2626", "#059669", "#d97706"];
  const base = (c) => "/api/cells/" + PA.cellPath(c);
  const feats = await Promise.all(cells.map((c) => PA.api(base(c) + "/features?level=cell")));
  // features: rows = names present in any cell, in the first cell's order
  const names = [], unit = {}, val = cells.map(() => ({}));
  feats.forEach((d, k) => { for (const r of d.ephys) { if (!(r.name in unit)) { names.push(r.name); unit[r.name] = r.unit; } val[k][r.name] = r.value; } for (const [n, v] of Object.entries(d.morphology || {})) { if (!(n in unit)) { names.push(n); unit[n] = null; } val[k][n] = v; } });
  const head = "<tr><th>feature</th><th>unit</th>" + cells.map((c, k) => `<th style="color:${colors[k]}">${PA.esc(c)}</th>`).join("") + "</tr>";
  const body = names.map((n) => `<tr data-feature="${PA.esc(n)}"><td>${PA.esc(n)}</td><td class="muted">${PA.esc(unit[n] || "")}</td>` + cells.map((_, k) => `<td class="num">${PA.esc(PA.fmt(val[k][n], 4))}</td>`).join("") + "</tr>").join("");
  document.getElementById("cmp-features").innerHTML = names.length ? `<table id="cmp-table">${head}${body}</table>` : '<p class="empty">None of these cells has stored features.</p>';
  // sweeps: long squares, matched by amplitude
  const tabs = await Promise.all(cells.map((c) => PA.api(base(c) + "/sweeps").catch(() => ({items: []}))));
  const ls = tabs.map((t) => t.items.filter((s) => s.kind === "long_square" && s.amplitude_pa !== null));
  const amps = [...new Set(ls.flat().map((s) => Math.round(s.amplitude_pa)))].sort((a, b) => a - b);
  const sel = document.getElementById("cmp-amp"), note = document.getElementById("cmp-sweeps-note");
  sel.innerHTML = amps.map((a) => `<option value="${a}">${a} pA</option>`).join("");
  let plot = null;
  async function draw() {
    if (!amps.length) { note.textContent = "None of these cells has long-square sweeps in the atlas."; return; }
    const a = +sel.value, picks = ls.map((list) => list.length ? list.reduce((b, s) => Math.abs(s.amplitude_pa - a) < Math.abs(b.amplitude_pa - a) ? s : b) : null);
    const got = await Promise.all(picks.map((s, k) => s ? PA.api(`${base(cells[k])}/sweeps/${s.index}?points=1500`).catch(() => null) : null));
    const present = got.map((d, k) => [d, k]).filter(([d]) => d);
    if (!present.length) { note.textContent = "No trace could be read."; return; }
    // one time base: the union grid of the first trace, others by nearest sample (s)
    const t = present[0][0].t, nearest = (tt, ts) => { let lo = 0, hi = tt.length - 1; while (hi - lo > 1) { const m = (lo + hi) >> 1; tt[m] < ts ? (lo = m) : (hi = m); } return Math.abs(tt[hi] - ts) < Math.abs(tt[lo] - ts) ? hi : lo; };
    const series = [{label: "t (s)"}], data = [t];
    for (const [d, k] of present) { series.push({label: `${cells[k]} · ${PA.fmt(picks[k].amplitude_pa, 4)} pA (mV)`, stroke: colors[k], width: 1}); data.push(d === present[0][0] ? d.v : t.map((ts) => d.v[nearest(d.t, ts)])); }
    if (plot) plot.destroy();
    const el = document.getElementById("cmp-sweeps");
    plot = new uPlot({width: Math.max(280, el.clientWidth - 10), height: 300, scales: {x: {time: false}}, series, axes: [{label: "time (s)"}, {label: "mV"}]}, data, el);
    el.dataset.overlaid = String(present.length);
    note.textContent = present.map(([, k]) => `${cells[k]}: sweep ${picks[k].number} at ${PA.fmt(picks[k].amplitude_pa, 4)} pA`).join(" · ") + (present.length < cells.length ? " · the other cells have no long-square sweep" : "");
  }
  if (amps.length) { const mid = amps.find((a) => a > 0) ?? amps[0]; sel.value = String(mid); }
  sel.addEventListener("change", draw); await draw();
  // morphologies side by side, on one scale
  const box = document.getElementById("cmp-morph");
  const infos = await Promise.all(cells.map((c) => PA.api(base(c))));
  const morphs = await Promise.all(cells.map((c, k) => (infos[k].has_morphology ? PA.api(base(c) + "/morphology").catch(() => null) : null)));
  const trees = await Promise.all(morphs.map((m) => (m && m.swc_url ? MV.load(m.swc_url).catch(() => null) : null)));
  const size = Math.max(1, ...trees.filter((t) => t).map((t) => { const e = MV.extent([...t.values()]); return Math.max(e.x[1] - e.x[0], e.y[1] - e.y[0]); }));
  box.innerHTML = cells.map((c, k) => `<figure><canvas id="cm-${k}" width="300" height="300" class="thumb" role="img" aria-label="Front projection of ${PA.esc(c)}" ${trees[k] ? "" : "hidden"}></canvas><figcaption style="color:${colors[k]}">${PA.esc(c)}${trees[k] ? "" : (morphs[k] ? ": features only, no reconstruction file" : ": no reconstruction")}</figcaption></figure>`).join("");
  trees.forEach((t, k) => { if (t) MV.draw(document.getElementById("cm-" + k), t, "x", "y", {flipV: true, size: size * 1.05}); });
  document.body.dataset.ready = "1";
})().catch((e) => { document.querySelector("main").insertAdjacentHTML("beforeend", `<p class="empty">Error: ${PA.esc(e.message)}</p>`); document.body.dataset.ready = "error"; });
