/* Cell search: facets, text, parallel coordinates with per-axis histograms (brushing by mouse or
   by typed ranges), sort, paging; the whole state lives in the URL (reload, Back and a pasted
   link restore it) and the same query string downloads the selection as CSV from /api/cells. */
"use strict";
(async function () {
  const D = await PA.api("/api/search");
  const N = D.n, C = D.columns, V = D.values;
  const facetCols = Object.keys(D.facets), availCols = Object.keys(D.availability);
  const multi = new Set(D.multi || []);
  const MISSING = "(unknown)";
  const featNames = D.features.map((f) => f.name);  // ordered by the number of cells measured
  const unit = Object.fromEntries(D.features.map((f) => [f.name, f.unit]));
  const flaggedSets = {};  // feature -> Set of cell positions outside the physiological range
  for (const [f, idx] of Object.entries(D.flagged || {})) flaggedSets[f] = new Set(idx);
  const anyFlag = new Uint8Array(N);
  for (const s of Object.values(flaggedSets)) for (const i of s) anyFlag[i] = 1;
  const isFlagged = (f, i) => !!(flaggedSets[f] && flaggedSets[f].has(i));
  document.getElementById("total").textContent = N;
  document.getElementById("n-features").textContent = featNames.length;

  // ---- state (mirrors the URL)
  const S = {sel: {}, avail: new Set(), brushes: {}, q: "", axes: featNames.slice(0, 6), sort: "", desc: false, per: "60", page: 1, flagged: false};
  facetCols.forEach((c) => (S.sel[c] = new Set()));
  const vals = (c, i) => { const v = C[c][i]; if (multi.has(c)) return v && v.length ? v : [MISSING]; return [v === null ? MISSING : v]; };
  const textOf = new Array(N);
  for (let i = 0; i < N; i++) {
    textOf[i] = [C.cell_id[i], C.t_type[i], C.subclass[i], C.cre_line[i], C.donor[i], (C.dataset[i] || []).join(" ")].filter((x) => x).join("\u0001").toLowerCase();
  }

  // ---- facet widgets (with a filter box when a facet has many values)
  for (const c of facetCols) {
    const box = document.querySelector(`.facet[data-facet="${c}"] .facet-values`);
    const counts = {};
    for (let i = 0; i < N; i++) for (const v of vals(c, i)) counts[v] = (counts[v] || 0) + 1;
    const list = Object.keys(counts).sort((a, b) => counts[b] - counts[a]);
    if (list.length === 1 && list[0] === MISSING) { box.innerHTML = '<span class="muted">not annotated in this atlas</span>'; continue; }
    const label = D.facets[c];
    const filter = list.length > 12 ? `<input type="search" class="facet-filter" data-filter="${PA.esc(c)}" placeholder="filter ${PA.esc(label.toLowerCase())}…" aria-label="Filter the ${PA.esc(label)} values">` : "";
    box.innerHTML = filter + list.map((v) => `<label class="fv" data-v="${PA.esc(v.toLowerCase())}"><input type="checkbox" data-col="${PA.esc(c)}" value="${PA.esc(v)}"> ${PA.esc(v)} <span class="n" data-count="${PA.esc(c)}|${PA.esc(v)}"></span></label>`).join("");
  }
  const facetsEl = document.getElementById("facets");
  facetsEl.addEventListener("input", (e) => {
    const t = e.target;
    if (t.dataset.filter) {
      const q = t.value.toLowerCase();
      t.parentElement.querySelectorAll(".fv").forEach((el) => (el.hidden = q && !el.dataset.v.includes(q)));
    }
  });
  facetsEl.addEventListener("change", (e) => {
    const t = e.target;
    if (t.dataset.col) { t.checked ? S.sel[t.dataset.col].add(t.value) : S.sel[t.dataset.col].delete(t.value); }
    else if (t.dataset.avail) { t.checked ? S.avail.add(t.dataset.avail) : S.avail.delete(t.dataset.avail); }
    else if (t.id === "flagged") { S.flagged = t.checked; }
    else return;
    S.page = 1; commit();
  });
  let typing = null;
  document.getElementById("q").addEventListener("input", (e) => {
    S.q = e.target.value; S.page = 1;
    clearTimeout(typing); typing = setTimeout(() => commit(true), 120);
  });
  document.getElementById("reset").addEventListener("click", () => {
    facetCols.forEach((c) => S.sel[c].clear()); S.avail.clear(); S.brushes = {}; S.q = ""; S.flagged = false; S.page = 1;
    commit();
  });

  // ---- axes (chips + searchable input) and sort (searchable input)
  const flist = featNames.map((f) => `<option value="${PA.esc(f)}">${unit[f] ? PA.esc(unit[f]) : ""}</option>`).join("");
  document.getElementById("feature-list").innerHTML = flist;
  document.getElementById("sort-list").innerHTML = `<option value="cell id"></option>` + flist;
  const axisAdd = document.getElementById("axis-add"), sortIn = document.getElementById("sort");
  axisAdd.addEventListener("change", async () => {
    const f = axisAdd.value.trim();
    if (featNames.includes(f) && !S.axes.includes(f)) { S.axes.push(f); await ensure([f]); commit(); }
    axisAdd.value = "";
  });
  axisAdd.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); axisAdd.dispatchEvent(new Event("change")); } });
  document.getElementById("axes").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-remove]"); if (!b) return;
    const f = b.dataset.remove; S.axes = S.axes.filter((x) => x !== f); delete S.brushes[f]; commit();
  });
  sortIn.addEventListener("change", async () => {
    const f = sortIn.value.trim();
    if (!f || f === "cell id") S.sort = ""; else if (featNames.includes(f)) { S.sort = f; await ensure([f]); } else return;
    S.page = 1; commit();
  });
  sortIn.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); sortIn.dispatchEvent(new Event("change")); } });
  document.getElementById("desc").addEventListener("change", (e) => { S.desc = e.target.checked; S.page = 1; commit(); });
  document.getElementById("per").addEventListener("change", (e) => { S.per = e.target.value; S.page = 1; commit(); });
  for (const [id, k] of [["page-prev", -1], ["page-next", 1], ["page-prev2", -1], ["page-next2", 1]]) {
    document.getElementById(id).addEventListener("click", () => { S.page += k; commit(); if (id.endsWith("2")) document.getElementById("count").scrollIntoView(); });
  }
  async function ensure(names) {
    const missing = names.filter((f) => !(f in V) && featNames.includes(f));
    if (!missing.length) return;
    const q = new URLSearchParams(); missing.forEach((m) => q.append("names", m));
    const d = await PA.api("/api/search/values?" + q);
    for (const [k, v] of Object.entries(d.values)) { V[k] = v; extent(k); }
  }

  // ---- URL <-> state
  const fmtNum = (x) => (x === null || x === undefined || !isFinite(x) ? "" : String(+(+x).toPrecision(6)));
  function toQuery(api) {
    const q = new URLSearchParams();
    for (const c of facetCols) for (const v of S.sel[c]) q.append(c, v);
    for (const a of S.avail) q.append(a, "true");
    for (const [f, [lo, hi]] of Object.entries(S.brushes)) q.append("range", `${f}:${fmtNum(lo)}..${fmtNum(hi)}`);
    if (S.q) q.set("q", S.q);
    if (S.flagged) q.set("flagged", "exclude");
    if (S.sort) q.set("sort", S.sort);
    if (S.desc) q.set("desc", "true");
    if (!api) {
      const def = featNames.slice(0, 6);
      if (S.axes.join(",") !== def.join(",")) q.set("axes", S.axes.join(","));
      if (S.per !== "60") q.set("per", S.per);
      if (S.page > 1) q.set("page", String(S.page));
    }
    return q;
  }
  function fromQuery(q) {
    facetCols.forEach((c) => (S.sel[c] = new Set(q.getAll(c))));
    S.avail = new Set(availCols.filter((a) => ["true", "1", "yes"].includes((q.get(a) || "").toLowerCase())));
    S.brushes = {};
    for (const r of q.getAll("range")) {
      const k = r.lastIndexOf(":"); if (k < 1) continue;
      const [a, b] = r.slice(k + 1).split("..");
      const lo = a === "" || a === undefined ? -Infinity : +a, hi = b === "" || b === undefined ? Infinity : +b;
      if (!Number.isNaN(lo) && !Number.isNaN(hi) && featNames.includes(r.slice(0, k))) S.brushes[r.slice(0, k)] = [lo, hi];
    }
    S.q = q.get("q") || "";
    S.flagged = q.get("flagged") === "exclude";
    S.sort = featNames.includes(q.get("sort")) ? q.get("sort") : "";
    S.desc = ["true", "1"].includes(q.get("desc"));
    const ax = q.get("axes");
    S.axes = ax !== null ? ax.split(",").filter((f) => featNames.includes(f)) : featNames.slice(0, 6);
    for (const f of Object.keys(S.brushes)) if (!S.axes.includes(f) && featNames.includes(f)) S.axes.push(f);
    S.per = ["30", "60", "120", "240", "all"].includes(q.get("per")) ? q.get("per") : "60";
    S.page = Math.max(1, parseInt(q.get("page") || "1", 10) || 1);
  }
  function syncControls() {
    document.querySelectorAll("#facets input[data-col]").forEach((x) => (x.checked = S.sel[x.dataset.col].has(x.value)));
    document.querySelectorAll("#facets input[data-avail]").forEach((x) => (x.checked = S.avail.has(x.dataset.avail)));
    document.getElementById("flagged").checked = S.flagged;
    const qi = document.getElementById("q"); if (qi.value !== S.q) qi.value = S.q;
    sortIn.value = S.sort; document.getElementById("desc").checked = S.desc;
    document.getElementById("per").value = S.per;
    document.getElementById("axes").innerHTML = S.axes.map((f) => `<span class="chip">${PA.esc(f)}<button type="button" data-remove="${PA.esc(f)}" aria-label="Remove axis ${PA.esc(f)}">×</button></span>`).join("") || '<span class="muted">none</span>';
    renderRanges();
  }
  async function commit(replace) {
    await ensure([...S.axes, ...(S.sort ? [S.sort] : []), ...Object.keys(S.brushes)]);
    const qs = toQuery(false).toString(), url = location.pathname + (qs ? "?" + qs : "");
    if (url !== location.pathname + location.search) history[replace ? "replaceState" : "pushState"](null, "", url);
    syncControls(); update();
  }
  window.addEventListener("popstate", async () => { fromQuery(new URLSearchParams(location.search)); await ensure([...S.axes, ...(S.sort ? [S.sort] : []), ...Object.keys(S.brushes)]); syncControls(); update(); });

  // ---- typed ranges (keyboard brushing)
  let rangesKey = null;
  function renderRanges() {
    const box = document.getElementById("ranges");
    const v = (x) => (x === null || x === undefined || !isFinite(x) ? "" : fmtNum(x));
    if (rangesKey === S.axes.join("\u0001")) {  // same axes: update the values, keep the focus
      box.querySelectorAll("input[data-range]").forEach((inp) => {
        if (inp === document.activeElement) return;
        const b = S.brushes[inp.dataset.range] || [null, null];
        inp.value = v(b[+inp.dataset.end]);
      });
      return;
    }
    rangesKey = S.axes.join("\u0001");
    const rows = S.axes.map((f) => {
      const b = S.brushes[f] || [null, null], u = unit[f] && !f.endsWith(`(${unit[f]})`) ? ` (${unit[f]})` : "";
      return `<div class="range-row"><span class="rname">${PA.esc(f)}${PA.esc(u)}</span>
        <label>from <input type="number" step="any" data-range="${PA.esc(f)}" data-end="0" value="${v(b[0])}" aria-label="${PA.esc(f)} minimum${PA.esc(u)}"></label>
        <label>to <input type="number" step="any" data-range="${PA.esc(f)}" data-end="1" value="${v(b[1])}" aria-label="${PA.esc(f)} maximum${PA.esc(u)}"></label></div>`;
    }).join("");
    box.innerHTML = '<legend class="muted">Ranges (inclusive; empty = open)</legend>' + rows;
  }
  document.getElementById("ranges").addEventListener("change", (e) => {
    const t = e.target; if (!t.dataset.range) return;
    const f = t.dataset.range, row = document.querySelectorAll(`[data-range="${CSS.escape(f)}"]`);
    const lo = row[0].value === "" ? -Infinity : +row[0].value, hi = row[1].value === "" ? Infinity : +row[1].value;
    if (lo === -Infinity && hi === Infinity) delete S.brushes[f]; else S.brushes[f] = [Math.min(lo, hi), Math.max(lo, hi)];
    S.page = 1; commit();
  });
  const cb = document.getElementById("color-by");  // colour the selected lines by a facet (e.g. stored cell types)
  if (cb) { for (const c of facetCols) cb.insertAdjacentHTML("beforeend", `<option value="${PA.esc(c)}">${PA.esc(D.facets[c])}</option>`); cb.addEventListener("change", () => drawPC(lastIdx)); }

  // ---- filtering
  function passes(i, skipCol) {
    for (const c of facetCols) {
      if (c === skipCol || !S.sel[c].size) continue;
      if (!vals(c, i).some((v) => S.sel[c].has(v))) return false;
    }
    for (const a of S.avail) if (a !== skipCol && !C[a][i]) return false;
    if (S.flagged && anyFlag[i]) return false;
    for (const f in S.brushes) { const x = V[f] ? V[f][i] : null, [lo, hi] = S.brushes[f]; if (x === null || x === undefined || x < lo || x > hi) return false; }
    if (S.q && !textOf[i].includes(S.q.toLowerCase().trim())) return false;
    return true;
  }
  let lastIdx = [], lastOrder = [];
  function update() {
    const idx = [];
    for (let i = 0; i < N; i++) if (passes(i)) idx.push(i);
    lastIdx = idx;
    document.getElementById("count").textContent = idx.length;
    for (const c of facetCols) {
      const counts = {};
      const only = !S.sel[c].size;  // without a choice in this facet the selection itself counts
      for (let i = 0; i < N; i++) if (only ? false : passes(i, c)) for (const v of vals(c, i)) counts[v] = (counts[v] || 0) + 1;
      if (only) for (const i of idx) for (const v of vals(c, i)) counts[v] = (counts[v] || 0) + 1;
      document.querySelectorAll(`[data-count^="${CSS.escape(c)}|"]`).forEach((el) => {
        const v = el.dataset.count.slice(c.length + 1), n = counts[v] || 0;
        el.textContent = n; el.parentElement.classList.toggle("zero", n === 0);
      });
    }
    for (const a of availCols) {
      let n = 0; for (const i of idx) if (C[a][i]) n++;
      document.querySelector(`[data-avail-count="${a}"]`).textContent = n;
    }
    const nb = Object.keys(S.brushes).length;
    document.getElementById("brush-note").textContent = nb ? `${nb} range${nb > 1 ? "s" : ""}: ` + Object.entries(S.brushes).map(([f, [a, b]]) => `${f} ${PA.fmt(a, 3)}…${PA.fmt(b, 3)}`).join("; ") : "";
    const api = toQuery(true); S.axes.forEach((f) => api.append("features", f)); api.set("format", "csv");
    document.getElementById("csv").href = "/api/cells?" + api.toString();
    drawPC(idx); renderCards(idx);
  }

  // ---- cards, sorted and paged
  function sorted(idx) {
    const s = S.sort;
    let order = idx.slice();
    if (s && V[s]) {
      const rank = (i) => (V[s][i] === null ? 2 : isFlagged(s, i) ? 1 : 0);  // valid, flagged, missing
      order.sort((a, b) => rank(a) - rank(b) || (rank(a) ? 0 : S.desc ? V[s][b] - V[s][a] : V[s][a] - V[s][b]));
    } else if (S.desc) order.reverse();
    return order;
  }
  const selectedForCompare = new Set();
  function renderCards(idx) {
    const order = sorted(idx); lastOrder = order;
    const per = S.per === "all" ? Math.max(order.length, 1) : +S.per;
    const pages = Math.max(1, Math.ceil(order.length / per));
    if (S.page > pages) S.page = pages;
    const start = (S.page - 1) * per, show = order.slice(start, start + per);
    const feats = (S.sort ? [S.sort] : []).concat(S.axes.filter((f) => f !== S.sort)).slice(0, 4);
    document.getElementById("cards").innerHTML = show.map((i) => {
      const id = C.cell_id[i];
      const badges = availCols.filter((a) => C[a][i]).map((a) => `<span>${PA.esc(D.availability[a])}</span>`).join("") + ((C.qc[i] || []).includes("failed") ? '<span class="bad">QC failed</span>' : "");
      const dl = feats.map((f) => {
        const x = V[f] ? V[f][i] : null, bad = isFlagged(f, i);
        return `<dt>${PA.esc(f)}</dt><dd${bad ? ' class="flag" title="outside the physiological range"' : ""}>${PA.fmt(x, 3)}${unit[f] && x !== null ? " " + PA.esc(unit[f]) : ""}</dd>`;
      }).join("");
      return `<article class="card" data-cell-id="${PA.esc(id)}"><a class="cid" href="/cells/${PA.cellPath(id)}">${PA.esc(id)}</a>
        <div>${PA.esc(C.species[i] || "")} · ${PA.esc(C.region[i] || "–")} · L${PA.esc(C.layer[i] || "?")}</div>
        <div class="tt">${PA.esc(C.t_type[i] || C.subclass[i] || C.t_type_family[i] || "no t-type")}</div>
        <div class="muted">${PA.esc(C.cre_line[i] || "")} ${PA.esc(C.dendrite_type[i] || "")}</div>
        <div class="muted">${PA.esc((C.dataset[i] || []).join(", "))}</div>
        <div class="badges">${badges}</div><dl>${dl}</dl>
        <label class="cmp"><input type="checkbox" data-compare="${PA.esc(id)}" ${selectedForCompare.has(id) ? "checked" : ""}> compare</label></article>`;
    }).join("");
    const info = order.length ? `Page ${S.page} of ${pages} · cells ${start + 1}–${start + show.length}` : "No cells match";
    for (const s of ["", "2"]) {
      document.getElementById("page-info" + s).textContent = info;
      document.getElementById("page-prev" + s).disabled = S.page <= 1;
      document.getElementById("page-next" + s).disabled = S.page >= pages;
    }
  }
  document.getElementById("cards").addEventListener("change", (e) => {
    const id = e.target.dataset.compare; if (!id) return;
    e.target.checked ? selectedForCompare.add(id) : selectedForCompare.delete(id);
    while (selectedForCompare.size > 4) selectedForCompare.delete(selectedForCompare.values().next().value);
    const link = document.getElementById("compare-link"), q = new URLSearchParams();
    selectedForCompare.forEach((c) => q.append("cells", c));
    link.href = "/compare?" + q; link.hidden = selectedForCompare.size < 2;
    link.textContent = `Compare ${selectedForCompare.size} cells`;
  });

  // ---- parallel coordinates with per-axis histograms; brushing by dragging along an axis
  const cv = document.getElementById("pc"), M = {l: 46, r: 70, t: 30, b: 30}, BAND = 10, BINS = 24;
  const ext = {};
  function extent(f) {  // scale from the values inside their physiological range
    let lo = Infinity, hi = -Infinity;
    V[f].forEach((x, i) => { if (x !== null && !isFlagged(f, i)) { if (x < lo) lo = x; if (x > hi) hi = x; } });
    if (lo === hi) { lo -= 1; hi += 1; } if (!isFinite(lo)) { lo = 0; hi = 1; }
    ext[f] = [lo, hi];
  }
  for (const f of Object.keys(V)) extent(f);
  window.pcAxes = [];
  function layout() {
    cv.width = Math.max(320, cv.clientWidth || 900);
    const W = cv.width, H = cv.height, n = S.axes.length;
    window.pcAxes = S.axes.map((f, k) => ({name: f, x: n === 1 ? W / 2 : M.l + k * (W - M.l - M.r) / (n - 1), top: M.t + BAND, bottom: H - M.b - BAND}));
  }
  const yOf = (f, x, ax) => { const [lo, hi] = ext[f]; if (x > hi) return ax.top - BAND / 2; if (x < lo) return ax.bottom + BAND / 2; return ax.bottom - (x - lo) / (hi - lo) * (ax.bottom - ax.top); };
  const xOfY = (f, y, ax) => ext[f][0] + (ax.bottom - y) / (ax.bottom - ax.top) * (ext[f][1] - ext[f][0]);
  function drawPC(idx) {
    const empty = document.getElementById("pc-empty");
    if (!featNames.length) { cv.hidden = true; empty.hidden = false; return; }
    layout();
    const ctx = cv.getContext("2d"), A = window.pcAxes;
    ctx.clearRect(0, 0, cv.width, cv.height);
    if (!A.length) { ctx.fillStyle = "#667"; ctx.font = "13px sans-serif"; ctx.fillText("Add an axis above.", 20, 40); return; }
    const inSel = new Uint8Array(N); for (const i of idx) inSel[i] = 1;
    const line = (i) => { ctx.beginPath(); let pen = false; for (const ax of A) { const col = V[ax.name]; const x = col ? col[i] : null; if (x === null || x === undefined) { pen = false; continue; } const y = yOf(ax.name, x, ax); pen ? ctx.lineTo(ax.x, y) : ctx.moveTo(ax.x, y); pen = true; } ctx.stroke(); };
    ctx.lineWidth = 1; ctx.strokeStyle = "rgba(160,170,180,0.10)";
    const step = Math.max(1, Math.floor(N / 3000));
    for (let i = 0; i < N; i += step) if (!inSel[i]) line(i);
    ctx.strokeStyle = idx.length > 800 ? "rgba(29,78,216,0.16)" : "rgba(29,78,216,0.45)";
    const cb = document.getElementById("color-by"), col = cb && cb.value;  // colour by a facet (cell types)
    const hue = (v) => { let h = 0; for (const ch of String(v)) h = (h * 31 + ch.charCodeAt(0)) % 360; return `hsla(${h},70%,42%,${idx.length > 800 ? 0.25 : 0.55})`; };
    for (const i of idx) { if (col) ctx.strokeStyle = C[col][i] === null ? "rgba(120,120,120,0.15)" : hue(C[col][i]); line(i); }
    ctx.font = "11px sans-serif";
    for (const ax of A) {
      const f = ax.name, col = V[f] || [];
      // histograms: all cells (grey), selected (blue), bars to the right of the axis
      const all = new Array(BINS).fill(0), sel = new Array(BINS).fill(0);
      const [lo, hi] = ext[f];
      for (let i = 0; i < N; i++) { const x = col[i]; if (x === null || x === undefined || isFlagged(f, i)) continue; const b = Math.min(BINS - 1, Math.max(0, Math.floor((x - lo) / (hi - lo) * BINS))); all[b]++; if (inSel[i]) sel[b]++; }
      const peak = Math.max(1, ...all), hgt = (ax.bottom - ax.top) / BINS, wmax = 34;
      for (let b = 0; b < BINS; b++) {
        const y = ax.bottom - (b + 1) * hgt;
        ctx.fillStyle = "rgba(150,160,170,0.35)"; ctx.fillRect(ax.x + 3, y + 0.5, wmax * all[b] / peak, hgt - 1);
        ctx.fillStyle = "rgba(29,78,216,0.55)"; ctx.fillRect(ax.x + 3, y + 0.5, wmax * sel[b] / peak, hgt - 1);
      }
      ctx.fillStyle = "rgba(150,160,170,0.25)"; ctx.fillRect(ax.x - 6, ax.top - BAND, 12, BAND - 1); ctx.fillRect(ax.x - 6, ax.bottom + 1, 12, BAND - 1);
      ctx.strokeStyle = "#333"; ctx.lineWidth = 1; ctx.beginPath(); ctx.moveTo(ax.x, ax.top); ctx.lineTo(ax.x, ax.bottom); ctx.stroke();
      ctx.fillStyle = "#223"; ctx.textAlign = "center";
      ctx.fillText(f.length > 26 ? f.slice(0, 25) + "…" : f, ax.x, 11);
      if (unit[f]) { ctx.fillStyle = "#667"; ctx.fillText(`(${unit[f]})`, ax.x, 23); ctx.fillStyle = "#223"; }
      ctx.fillText(PA.fmt(hi, 3), ax.x, ax.top - BAND - 3); ctx.fillText(PA.fmt(lo, 3), ax.x, ax.bottom + BAND + 12);
      const b = S.brushes[f];
      if (b) { const y1 = yOf(f, Math.min(b[1], hi), ax), y0 = yOf(f, Math.max(b[0], lo), ax); ctx.fillStyle = "rgba(250,160,20,0.35)"; ctx.fillRect(ax.x - 8, y1, 16, y0 - y1); ctx.strokeStyle = "#d97706"; ctx.strokeRect(ax.x - 8, y1, 16, y0 - y1); }
    }
    cv.setAttribute("aria-label", `Parallel coordinates of ${idx.length} selected cells on ${A.length} axes: ${A.map((a) => a.name).join(", ")}` + (Object.keys(S.brushes).length ? `; ranges: ${document.getElementById("brush-note").textContent}` : ""));
    cv.dataset.drawn = String(idx.length);
  }
  let drag = null;
  const pos = (e) => { const r = cv.getBoundingClientRect(); return [(e.clientX - r.left) * cv.width / r.width, (e.clientY - r.top) * cv.height / r.height]; };
  cv.addEventListener("pointerdown", (e) => {
    const [x, y] = pos(e);
    const ax = window.pcAxes.find((a) => Math.abs(a.x - x) < 16);
    if (ax) { drag = {ax, y0: Math.min(Math.max(y, ax.top), ax.bottom), moved: false}; cv.setPointerCapture && cv.setPointerCapture(e.pointerId); }
  });
  cv.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const [, y] = pos(e), yy = Math.min(Math.max(y, drag.ax.top), drag.ax.bottom);
    if (Math.abs(yy - drag.y0) < 3) return;
    drag.moved = true;
    const f = drag.ax.name, a = xOfY(f, drag.y0, drag.ax), b = xOfY(f, yy, drag.ax);
    S.brushes[f] = [Math.min(a, b), Math.max(a, b)];
    update();
  });
  const endDrag = () => {
    if (!drag) return;
    if (!drag.moved) delete S.brushes[drag.ax.name];
    drag = null; S.page = 1; commit();
  };
  cv.addEventListener("pointerup", endDrag); cv.addEventListener("pointercancel", endDrag);
  let rz = null; window.addEventListener("resize", () => { clearTimeout(rz); rz = setTimeout(() => drawPC(lastIdx), 100); });
  window.patchatlasSearch = {
    get brushes() { return S.brushes; },
    state: S,
    selected: () => lastIdx.map((i) => C.cell_id[i]),
    ordered: () => lastOrder.map((i) => C.cell_id[i]),
  };

  fromQuery(new URLSearchParams(location.search));
  await ensure([...S.axes, ...(S.sort ? [S.sort] : []), ...Object.keys(S.brushes)]);
  syncControls(); update();
  document.body.dataset.ready = "1";
})().catch((e) => { document.getElementById("cards").innerHTML = `<p class="empty">Could not load the atlas: ${PA.esc(e.message)}</p>`; document.body.dataset.ready = "error"; });
