/* SWC parsing and 2-D projections (cell thumbnail, the morphology page's fallback, compare). */
"use strict";
const MV = (() => {
  const COLORS = {1: "#111111", 2: "#2563eb", 3: "#dc2626", 4: "#c026d3"};
  function parse(text) {
    const nodes = new Map();
    for (const line of text.split(/\r?\n/)) {
      const s = line.trim(); if (!s || s[0] === "#") continue;
      const f = s.split(/\s+/).map(Number); if (f.length < 7 || f.slice(0, 7).some((x) => !Number.isFinite(x))) continue;
      nodes.set(f[0], {id: f[0], t: f[1], x: f[2], y: f[3], z: f[4], r: f[5], p: f[6]});
    }
    return nodes;
  }
  function extent(pts) {
    const e = {x: [Infinity, -Infinity], y: [Infinity, -Infinity], z: [Infinity, -Infinity]};
    for (const n of pts) for (const k of "xyz") { if (n[k] < e[k][0]) e[k][0] = n[k]; if (n[k] > e[k][1]) e[k][1] = n[k]; }
    return e;
  }
  /* draw the h-v projection of `nodes` on `cv`; opts: {flipV, layers:[{layer, top_um}], pia, ext, scaleBar, hidden:Set(types)} */
  function draw(cv, nodes, h, v, opts = {}) {
    const ctx = cv.getContext("2d"), W = cv.width, H = cv.height, pad = 14;
    const pts = [...nodes.values()], ext = opts.ext || extent(pts);
    const size = opts.size || Math.max(...Object.values(ext).map(([a, b]) => b - a)) || 1;
    const s = (Math.min(W, H) - 2 * pad) / size;
    const ch = (ext[h][0] + ext[h][1]) / 2, cvv = (ext[v][0] + ext[v][1]) / 2;
    const X = (n) => W / 2 + (n[h] - ch) * s, Y = (n) => opts.flipV ? H / 2 - (n[v] - cvv) * s : H / 2 + (n[v] - cvv) * s;
    ctx.clearRect(0, 0, W, H); ctx.lineWidth = opts.lineWidth || 1; let segs = 0;
    const hidden = opts.hidden || new Set();
    for (const n of pts) {
      const par = nodes.get(n.p); if (!par || hidden.has(n.t)) continue;
      ctx.strokeStyle = COLORS[n.t] || "#16a34a"; ctx.beginPath(); ctx.moveTo(X(par), Y(par)); ctx.lineTo(X(n), Y(n)); ctx.stroke(); segs++;
    }
    if (!hidden.has(1)) for (const n of pts) if (n.t === 1) { ctx.fillStyle = "#111"; ctx.beginPath(); ctx.arc(X(n), Y(n), Math.max(2, n.r * s), 0, 7); ctx.fill(); }
    const layers = opts.layers || [];
    if (v === "y" && layers.length) {
      const pia = opts.pia || 0;
      ctx.save(); ctx.setLineDash([4, 4]); ctx.strokeStyle = "#94a3b8"; ctx.fillStyle = "#64748b"; ctx.font = "10px sans-serif"; ctx.textAlign = "right";
      layers.forEach((l, k) => {
        const y = Y({[v]: pia - l.top_um}), next = layers[k + 1];
        ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(W, y); ctx.stroke();
        if (l.top_um === 0) ctx.fillText("pia", W - 3, y - 3);
        const wm = /^wm$|white/i.test(l.layer);
        ctx.fillText(wm ? "white matter" : "L" + l.layer, W - 3, wm || !next ? y + 12 : (y + Y({[v]: pia - next.top_um})) / 2 + 3);
      });
      ctx.restore(); cv.dataset.layers = String(layers.length);
    }
    if (opts.scaleBar !== false) {
      ctx.strokeStyle = "#555"; ctx.beginPath(); ctx.moveTo(pad, H - pad); ctx.lineTo(pad + 100 * s, H - pad); ctx.stroke();
      ctx.fillStyle = "#555"; ctx.font = "10px sans-serif"; ctx.textAlign = "left"; ctx.fillText("100 µm", pad, H - pad - 3);
    }
    cv.dataset.segments = String(segs);
    return segs;
  }
  async function load(swcUrl) { const r = await fetch(swcUrl); if (!r.ok) throw new Error(r.status + " " + r.statusText); return parse(await r.text()); }
  return {COLORS, parse, extent, draw, load};
})();
