/* Morphology viewer: SWC parsed in the browser, 2-D projections coloured by compartment. */
"use strict";
(async function () {
  const id = document.getElementById("cell-id").dataset.cell, base = "/api/cells/" + PA.cellPath(id);
  const empty = document.getElementById("morph-empty");
  let m;
  try { m = await PA.api(base + "/morphology"); }
  catch (e) { empty.hidden = false; empty.textContent = "This cell has no reconstruction in the atlas."; document.body.dataset.ready = "1"; return; }
  PA.table(document.getElementById("mfeatures"), Object.entries(m.features).map(([k, v]) => ({feature: k, value: v})), ["feature", "value"], {empty: "No morphology features stored."});
  PA.table(document.getElementById("missues"), m.issues, ["severity", "code", "message"], {empty: "No validation issues."});
  if (!m.swc_url) { empty.hidden = false; empty.textContent = "Only morphology features are stored for this cell (no SWC reconstruction file to draw)."; document.body.dataset.ready = "1"; return; }
  const link = document.getElementById("swc-link"); link.href = m.swc_url; link.hidden = false;
  const text = await (await fetch(m.swc_url)).text();
  const nodes = new Map();
  for (const line of text.split(/\r?\n/)) {
    const s = line.trim(); if (!s || s[0] === "#") continue;
    const f = s.split(/\s+/).map(Number); if (f.length < 7 || f.some((x) => !Number.isFinite(x))) continue;
    nodes.set(f[0], {t: f[1], x: f[2], y: f[3], z: f[4], r: f[5], p: f[6]});
  }
  const colors = {1: "#111", 2: "#2563eb", 3: "#dc2626", 4: "#c026d3"};
  const pts = [...nodes.values()];
  if (!pts.length) { empty.hidden = false; empty.textContent = "The SWC file holds no nodes."; document.body.dataset.ready = "1"; return; }
  const span = (k) => [Math.min(...pts.map((n) => n[k])), Math.max(...pts.map((n) => n[k]))];
  const ext = {x: span("x"), y: span("y"), z: span("z")};
  // layer-aligned view: pia at y = pia_y, each layer's top at y = pia_y - top (µm)
  const layers = (m.layer_boundaries || []).filter((l) => Number.isFinite(l.top_um));
  const pia = Number.isFinite(m.pia_y) ? m.pia_y : 0;
  if (layers.length) { const ys = layers.map((l) => pia - l.top_um).concat([pia]); ext.y = [Math.min(ext.y[0], ...ys), Math.max(ext.y[1], ...ys)]; }
  const size = Math.max(...Object.values(ext).map(([a, b]) => b - a)) || 1;
  function draw(canvasId, h, v, flipV) {
    const cv = document.getElementById(canvasId), ctx = cv.getContext("2d"), W = cv.width, H = cv.height, pad = 14;
    const s = (Math.min(W, H) - 2 * pad) / size;
    const ch = (ext[h][0] + ext[h][1]) / 2, cvv = (ext[v][0] + ext[v][1]) / 2;
    const X = (n) => W / 2 + (n[h] - ch) * s, Y = (n) => flipV ? H / 2 - (n[v] - cvv) * s : H / 2 + (n[v] - cvv) * s;
    ctx.clearRect(0, 0, W, H); ctx.lineWidth = 1; let segs = 0;
    for (const n of pts) {
      const par = nodes.get(n.p); if (!par) continue;
      ctx.strokeStyle = colors[n.t] || "#16a34a"; ctx.beginPath(); ctx.moveTo(X(par), Y(par)); ctx.lineTo(X(n), Y(n)); ctx.stroke(); segs++;
    }
    for (const n of pts) if (n.t === 1) { ctx.fillStyle = "#111"; ctx.beginPath(); ctx.arc(X(n), Y(n), Math.max(2, n.r * s), 0, 7); ctx.fill(); }
    if (v === "y" && layers.length) {
      ctx.save(); ctx.setLineDash([4, 4]); ctx.strokeStyle = "#94a3b8"; ctx.fillStyle = "#64748b"; ctx.font = "10px sans-serif"; ctx.textAlign = "right";
      layers.forEach((l, k) => {
        const y = Y({y: pia - l.top_um}), next = layers[k + 1];
        ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(W, y); ctx.stroke();
        if (l.top_um === 0) ctx.fillText("pia", W - 3, y - 3);
        const wm = /^wm$|white/i.test(l.layer);
        ctx.fillText(wm ? "white matter" : "L" + l.layer, W - 3, wm || !next ? y + 12 : (y + Y({y: pia - next.top_um})) / 2 + 3);
      });
      ctx.restore(); cv.dataset.layers = String(layers.length);
    }
    ctx.strokeStyle = "#555"; ctx.beginPath(); ctx.moveTo(pad, H - pad); ctx.lineTo(pad + 100 * s, H - pad); ctx.stroke();
    ctx.fillStyle = "#555"; ctx.font = "10px sans-serif"; ctx.fillText("100 µm", pad, H - pad - 3);
    cv.dataset.segments = String(segs);
  }
  draw("proj-xy", "x", "y", true); draw("proj-zy", "z", "y", true); draw("proj-xz", "x", "z", false);
  const cap = document.getElementById("cap-xy");
  if (layers.length) cap.textContent = m.layer_aligned ? "x–y, layer-aligned view: pia at the top, dashed lines = layer boundaries (reference depths the reconstruction was aligned to)" : "x–y with the stored layer boundaries (dashed), pia at the top";
  document.getElementById("morph-info").textContent = `${pts.length} nodes; extent x ${PA.fmt(ext.x[1] - ext.x[0], 3)} µm, y ${PA.fmt(ext.y[1] - ext.y[0], 3)} µm, z ${PA.fmt(ext.z[1] - ext.z[0], 3)} µm`;
  document.body.dataset.ready = "1";
})();
