/* patchatlas portal: shared helpers (no dependencies besides the vendored uPlot). */
"use strict";
const PA = (() => {
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
  const cellPath = (id) => String(id).split("/").map(encodeURIComponent).join("/");
  async function api(path) {
    const r = await fetch(path, {headers: {Accept: "application/json"}});
    if (!r.ok) { let d = r.statusText; try { d = (await r.json()).detail; } catch (e) {} throw new Error(r.status + ": " + d); }
    return r.json();
  }
  function fmt(v, d = 4) {
    if (v === null || v === undefined || (typeof v === "number" && !isFinite(v))) return "–";
    if (typeof v === "number") return Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : +v.toPrecision(d) + "";
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }
  function table(el, rows, cols, opts = {}) {
    if (!rows || !rows.length) { el.innerHTML = `<p class="empty">${esc(opts.empty || "Nothing stored.")}</p>`; return; }
    cols = cols || Object.keys(rows[0]);
    const head = "<tr>" + cols.map((c) => `<th data-col="${esc(c)}">${esc(c)}</th>`).join("") + "</tr>";
    const body = rows.map((r) => "<tr>" + cols.map((c) => `<td data-col="${esc(c)}">${opts.html && opts.html[c] ? opts.html[c](r[c], r) : esc(fmt(r[c]))}</td>`).join("") + "</tr>").join("");
    el.innerHTML = `<table>${head}${body}</table>`;
  }
  /* Minimal x-y canvas plot: series = [{x:[], y:[], color, line:true, points:false, band:[lo,hi]}] */
  function xyPlot(canvas, series, o = {}) {
    const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, m = {l: 56, r: 12, t: 10, b: 36};
    ctx.clearRect(0, 0, W, H);
    let xs = [], ys = [];
    for (const s of series) { xs = xs.concat(s.x.filter(Number.isFinite)); ys = ys.concat(s.y.filter(Number.isFinite)); if (s.lo) ys = ys.concat(s.lo.filter(Number.isFinite), s.hi.filter(Number.isFinite)); }
    if (!xs.length) return false;
    let [x0, x1] = o.xticks ? [-0.5, o.xticks.length - 0.5] : [Math.min(...xs), Math.max(...xs)], [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    if (o.y0 !== undefined) y0 = Math.min(y0, o.y0);
    if (x1 === x0) { x0 -= 1; x1 += 1; } if (y1 === y0) { y0 -= 1; y1 += 1; }
    const px = (x) => m.l + (x - x0) / (x1 - x0) * (W - m.l - m.r), py = (y) => H - m.b - (y - y0) / (y1 - y0) * (H - m.t - m.b);
    ctx.strokeStyle = "#99a"; ctx.lineWidth = 1; ctx.strokeRect(m.l, m.t, W - m.l - m.r, H - m.t - m.b);
    ctx.fillStyle = "#445"; ctx.font = "11px sans-serif";
    for (let k = 0; k <= 4; k++) {
      const xv = x0 + (x1 - x0) * k / 4, yv = y0 + (y1 - y0) * k / 4;
      if (!o.xticks) { ctx.textAlign = "center"; ctx.fillText(fmt(xv, 3), px(xv), H - m.b + 14); }
      ctx.textAlign = "right"; ctx.fillText(fmt(yv, 3), m.l - 4, py(yv) + 4);
    }
    if (o.xticks) { ctx.textAlign = "center"; o.xticks.forEach((t, k) => ctx.fillText(String(t).slice(0, 14), px(k), H - m.b + 14)); }
    ctx.textAlign = "center"; ctx.fillText(o.xlabel || "", m.l + (W - m.l - m.r) / 2, H - 4);
    ctx.save(); ctx.translate(12, m.t + (H - m.t - m.b) / 2); ctx.rotate(-Math.PI / 2); ctx.fillText(o.ylabel || "", 0, 0); ctx.restore();
    for (const s of series) {
      ctx.strokeStyle = ctx.fillStyle = s.color || "#2563eb"; ctx.lineWidth = 1.5;
      if (s.lo) { for (let i = 0; i < s.x.length; i++) if (Number.isFinite(s.lo[i])) { ctx.beginPath(); ctx.moveTo(px(s.x[i]), py(s.lo[i])); ctx.lineTo(px(s.x[i]), py(s.hi[i])); ctx.stroke(); } }
      if (s.line !== false) { ctx.beginPath(); let first = true; for (let i = 0; i < s.x.length; i++) { if (!Number.isFinite(s.y[i])) continue; const X = px(s.x[i]), Y = py(s.y[i]); first ? ctx.moveTo(X, Y) : ctx.lineTo(X, Y); first = false; } ctx.stroke(); }
      if (s.points) for (let i = 0; i < s.x.length; i++) if (Number.isFinite(s.y[i])) { ctx.beginPath(); ctx.arc(px(s.x[i]), py(s.y[i]), 3, 0, 7); ctx.fill(); }
    }
    canvas.dataset.drawn = String(series.reduce((a, s) => a + s.x.length, 0));
    return true;
  }
  return {esc, api, fmt, table, xyPlot, cellPath};
})();
