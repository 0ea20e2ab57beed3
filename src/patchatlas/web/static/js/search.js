/* Cell Feature Search: facets, parallel-coordinates brushing, cards, sort; all counts live. */
"use strict";
(async function () {
  const D = await PA.api("/api/search");
  const N = D.n, C = D.columns, V = D.values;
  const facetCols = Object.keys(D.facets), availCols = Object.keys(D.availability);
  const sel = {}; facetCols.forEach((c) => (sel[c] = new Set()));
  const avail = new Set();
  const brushes = {};           // feature -> [lo, hi]
  let query = "", shown = 60;
  const featNames = D.features.map((f) => f.name);  // ordered by the number of cells measured
  const unit = Object.fromEntries(D.features.map((f) => [f.name, f.unit]));
  let axes = featNames.slice(0, 6);
  document.getElementById("total").textContent = N;

  // ---- facet widgets
  const MISSING = "(unknown)";
  const val = (c, i) => (C[c][i] === null ? MISSING : C[c][i]);
  for (const c of facetCols) {
    const box = document.querySelector(`.facet[data-facet="${c}"] .facet-values`);
    const counts = {};
    for (let i = 0; i < N; i++) counts[val(c, i)] = (counts[val(c, i)] || 0) + 1;
    const vals = Object.keys(counts).sort((a, b) => counts[b] - counts[a]);
    if (vals.length === 1 && vals[0] === MISSING) { box.innerHTML = '<span class="muted">not annotated in this atlas</span>'; continue; }
    box.innerHTML = vals.map((v) => `<label class="fv"><input type="checkbox" data-col="${PA.esc(c)}" value="${PA.esc(v)}"> ${PA.esc(v)} <span class="n" data-count="${PA.esc(c)}|${PA.esc(v)}"></span></label>`).join("");
  }
  document.getElementById("facets").addEventListener("change", (e) => {
    const t = e.target;
    if (t.dataset.col) { t.checked ? sel[t.dataset.col].add(t.value) : sel[t.dataset.col].delete(t.value); }
    else if (t.dataset.avail) { t.checked ? avail.add(t.dataset.avail) : avail.delete(t.dataset.avail); }
    shown = 60; update();
  });
  document.getElementById("q").addEventListener("input", (e) => { query = e.target.value.toLowerCase(); shown = 60; update(); });
  document.getElementById("reset").addEventListener("click", () => {
    facetCols.forEach((c) => sel[c].clear()); avail.clear(); for (const k in brushes) delete brushes[k];
    document.querySelectorAll("#facets input[type=checkbox]").forEach((x) => (x.checked = false));
    document.getElementById("q").value = ""; query = ""; update();
  });

  // ---- axes + sort selectors
  const axSel = document.getElementById("axes"), sortSel = document.getElementById("sort");
  axSel.size = Math.min(4, Math.max(1, featNames.length));
  for (const f of featNames) {
    axSel.insertAdjacentHTML("beforeend", `<option value="${PA.esc(f)}" ${axes.includes(f) ? "selected" : ""}>${PA.esc(f)}</option>`);
    sortSel.insertAdjacentHTML("beforeend", `<option value="${PA.esc(f)}">${PA.esc(f)}</option>`);
  }
  async function ensure(names) {
    const missing = names.filter((f) => !(f in V));
    if (!missing.length) return;
    const q = new URLSearchParams(); missing.forEach((m) => q.append("names", m));
    const d = await PA.api("/api/search/values?" + q);
    for (const [k, v] of Object.entries(d.values)) { V[k] = v; extent(k); }
  }
  axSel.addEventListener("change", async () => {
    axes = [...axSel.selectedOptions].map((o) => o.value);
    for (const k in brushes) if (!axes.includes(k)) delete brushes[k];
    await ensure(axes); update();
  });
  sortSel.addEventListener("change", async () => { if (sortSel.value) await ensure([sortSel.value]); update(); });
  document.getElementById("desc").addEventListener("change", update);
  const cb = document.getElementById("color-by");
  if (cb) { for (const c of facetCols) cb.insertAdjacentHTML("beforeend", `<option value="${PA.esc(c)}">${PA.esc(D.facets[c])}</option>`); cb.addEventListener("change", () => drawPC(lastIdx)); }
  document.getElementById("more").addEventListener("click", () => { shown += 120; renderCards(lastIdx); });

  // ---- filtering
  function passes(i, skipCol) {
    for (const c of facetCols) if (c !== skipCol && sel[c].size && !sel[c].has(val(c, i))) return false;
    for (const a of avail) if (a !== skipCol && !C[a][i]) return false;
    for (const f in brushes) { const x = V[f][i], [lo, hi] = brushes[f]; if (x === null || x < lo || x > hi) return false; }
    if (query && !(String(C.cell_id[i]).toLowerCase().includes(query) || String(C.t_type[i] || "").toLowerCase().includes(query))) return false;
    return true;
  }
  let lastIdx = [];
  function update() {
    const idx = [];
    for (let i = 0; i < N; i++) if (passes(i)) idx.push(i);
    lastIdx = idx;
    document.getElementById("count").textContent = idx.length;
    // facet counts: how many cells each value would give with the other filters kept
    for (const c of facetCols) {
      const counts = {};
      for (let i = 0; i < N; i++) if (passes(i, c)) counts[val(c, i)] = (counts[val(c, i)] || 0) + 1;
      document.querySelectorAll(`[data-count^="${CSS.escape(c)}|"]`).forEach((el) => {
        const v = el.dataset.count.slice(c.length + 1), n = counts[v] || 0;
        el.textContent = n; el.parentElement.classList.toggle("zero", n === 0);
      });
    }
    for (const a of availCols) {
      let n = 0; for (const i of idx) if (C[a][i]) n++;
      document.querySelector(`[data-avail-count="${a}"]`).textContent = n;
    }
    const nb = Object.keys(brushes).length;
    document.getElementById("brush-note").textContent = nb ? `${nb} brushed range${nb > 1 ? "s" : ""}: ` + Object.entries(brushes).map(([f, [a, b]]) => `${f} ${PA.fmt(a, 3)}…${PA.fmt(b, 3)}`).join("; ") : "";
    drawPC(idx); renderCards(idx);
  }

  // ---- cards
  function renderCards(idx) {
    const s = sortSel.value, desc = document.getElementById("desc").checked;
    let order = idx.slice();
    if (s) order.sort((a, b) => { const x = V[s][a], y = V[s][b]; if (x === null) return 1; if (y === null) return -1; return desc ? y - x : x - y; });
    else if (desc) order.reverse();
    const show = order.slice(0, shown), featsOnCard = (s ? [s] : []).concat(axes.filter((f) => f !== s)).slice(0, 4);
    document.getElementById("cards").innerHTML = show.map((i) => {
      const badges = availCols.filter((a) => C[a][i]).map((a) => `<span>${PA.esc(D.availability[a])}</span>`).join("");
      const dl = featsOnCard.map((f) => `<dt>${PA.esc(f)}</dt><dd>${PA.fmt(V[f][i], 3)}${unit[f] ? " " + PA.esc(unit[f]) : ""}</dd>`).join("");
      return `<div class="card" data-cell-id="${PA.esc(C.cell_id[i])}"><a class="cid" href="/cells/${PA.cellPath(C.cell_id[i])}">${PA.esc(C.cell_id[i])}</a>
        <div>${PA.esc(C.species[i] || "")} · ${PA.esc(C.region[i] || "–")} · L${PA.esc(C.layer[i] || "?")}</div>
        <div class="tt">${PA.esc(C.t_type[i] || C.t_type_family[i] || "no t-type")}</div>
        <div class="muted">${PA.esc(C.cre_line[i] || "")} ${PA.esc(C.dendrite_type[i] || "")}</div>
        <div class="badges">${badges}</div><dl>${dl}</dl></div>`;
    }).join("");
    document.getElementById("more").hidden = order.length <= shown;
  }

  // ---- parallel coordinates on a canvas, brushing by dragging along an axis
  const cv = document.getElementById("pc"), M = {l: 40, r: 40, t: 28, b: 24};
  const ext = {};
  function extent(f) { let lo = Infinity, hi = -Infinity; for (const x of V[f]) if (x !== null) { if (x < lo) lo = x; if (x > hi) hi = x; } if (lo === hi) { lo -= 1; hi += 1; } if (!isFinite(lo)) { lo = 0; hi = 1; } ext[f] = [lo, hi]; }
  for (const f of Object.keys(V)) extent(f);
  window.pcAxes = [];
  function layout() {
    cv.width = cv.clientWidth || 900;
    const W = cv.width, H = cv.height, n = axes.length;
    window.pcAxes = axes.map((f, k) => ({name: f, x: n === 1 ? W / 2 : M.l + k * (W - M.l - M.r) / (n - 1), top: M.t, bottom: H - M.b}));
  }
  const yOf = (f, x, ax) => ax.bottom - (x - ext[f][0]) / (ext[f][1] - ext[f][0]) * (ax.bottom - ax.top);
  const xOfY = (f, y, ax) => ext[f][0] + (ax.bottom - y) / (ax.bottom - ax.top) * (ext[f][1] - ext[f][0]);
  function drawPC(idx) {
    if (!featNames.length) { cv.hidden = true; document.getElementById("pc-empty").hidden = false; return; }
    layout();
    const ctx = cv.getContext("2d"), A = window.pcAxes;
    ctx.clearRect(0, 0, cv.width, cv.height);
    const inSel = new Uint8Array(N); for (const i of idx) inSel[i] = 1;
    const line = (i) => { ctx.beginPath(); let pen = false; for (const ax of A) { const x = V[ax.name][i]; if (x === null) { pen = false; continue; } const y = yOf(ax.name, x, ax); pen ? ctx.lineTo(ax.x, y) : ctx.moveTo(ax.x, y); pen = true; } ctx.stroke(); };
    ctx.lineWidth = 1; ctx.strokeStyle = "rgba(160,170,180,0.12)";
    const step = Math.max(1, Math.floor(N / 3000));
    for (let i = 0; i < N; i += step) if (!inSel[i]) line(i);
    ctx.strokeStyle = idx.length > 800 ? "rgba(37,99,235,0.18)" : "rgba(37,99,235,0.45)";
    const cb = document.getElementById("color-by"), col = cb && cb.value;  // colour by a facet (cell types)
    const hue = (v) => { let h = 0; for (const ch of String(v)) h = (h * 31 + ch.charCodeAt(0)) % 360; return `hsla(${h},70%,42%,${idx.length > 800 ? 0.25 : 0.55})`; };
    for (const i of idx) { if (col) ctx.strokeStyle = C[col][i] === null ? "rgba(120,120,120,0.15)" : hue(C[col][i]); line(i); }
    ctx.fillStyle = "#223"; ctx.font = "11px sans-serif"; ctx.textAlign = "center";
    for (const ax of A) {
      ctx.strokeStyle = "#333"; ctx.lineWidth = 1; ctx.beginPath(); ctx.moveTo(ax.x, ax.top); ctx.lineTo(ax.x, ax.bottom); ctx.stroke();
      ctx.fillText(ax.name + (unit[ax.name] ? ` (${unit[ax.name]})` : ""), ax.x, 12);
      ctx.fillText(PA.fmt(ext[ax.name][1], 3), ax.x, ax.top - 4); ctx.fillText(PA.fmt(ext[ax.name][0], 3), ax.x, ax.bottom + 14);
      const b = brushes[ax.name];
      if (b) { const y1 = yOf(ax.name, b[1], ax), y0 = yOf(ax.name, b[0], ax); ctx.fillStyle = "rgba(250,160,20,0.35)"; ctx.fillRect(ax.x - 8, y1, 16, y0 - y1); ctx.strokeStyle = "#d97706"; ctx.strokeRect(ax.x - 8, y1, 16, y0 - y1); ctx.fillStyle = "#223"; }
    }
  }
  let drag = null;
  const pos = (e) => { const r = cv.getBoundingClientRect(); return [(e.clientX - r.left) * cv.width / r.width, (e.clientY - r.top) * cv.height / r.height]; };
  cv.addEventListener("mousedown", (e) => {
    const [x, y] = pos(e);
    const ax = window.pcAxes.find((a) => Math.abs(a.x - x) < 16);
    if (ax) drag = {ax, y0: Math.min(Math.max(y, ax.top), ax.bottom), moved: false};
  });
  window.addEventListener("mousemove", (e) => {
    if (!drag) return;
    const [, y] = pos(e), yy = Math.min(Math.max(y, drag.ax.top), drag.ax.bottom);
    if (Math.abs(yy - drag.y0) < 3) return;
    drag.moved = true;
    const f = drag.ax.name, a = xOfY(f, drag.y0, drag.ax), b = xOfY(f, yy, drag.ax);
    brushes[f] = [Math.min(a, b), Math.max(a, b)];
    update();
  });
  window.addEventListener("mouseup", () => { if (drag && !drag.moved) { delete brushes[drag.ax.name]; update(); } drag = null; });
  window.addEventListener("resize", () => drawPC(lastIdx));
  window.patchatlasSearch = {brushes, selected: () => lastIdx.map((i) => C.cell_id[i])};
  update();
  document.body.dataset.ready = "1";
})().catch((e) => { document.getElementById("cards").innerHTML = `<p class="empty">Could not load the atlas: ${PA.esc(e.message)}</p>`; });
