/* Type page: feature distributions of the type against all cells, example cells. */
"use strict";
(async function () {
  const el = document.getElementById("type-name"), level = el.dataset.level, name = el.dataset.name;
  const d = await PA.api(`/api/type-summary/${level}/${PA.cellPath(name)}`);
  PA.table(document.getElementById("examples"), d.examples, ["cell_id", "t_type", "species", "region", "layer", "data"], {html: {cell_id: (v) => `<a href="/cells/${PA.cellPath(v)}">${PA.esc(v)}</a>`, data: (v) => (v || []).map((x) => `<span class="pill">${PA.esc(x.replace("has_", ""))}</span>`).join("")}, empty: "No example cells."});
  const box = document.getElementById("dists");
  if (!d.features.length) document.getElementById("dists-empty").hidden = false;
  box.innerHTML = d.features.map((f, k) => `<figure><canvas id="d-${k}" width="300" height="90" role="img" aria-label="${PA.esc(f.feature)}: median ${PA.fmt(f.type.median, 4)} ${PA.esc(f.unit || "")} in this type (n=${f.type.n}) against ${PA.fmt(f.all.median, 4)} in all cells (n=${f.all.n})"></canvas><figcaption><b>${PA.esc(f.feature)}</b> ${f.unit ? "(" + PA.esc(f.unit) + ")" : ""} · median ${PA.fmt(f.type.median, 4)} [${PA.fmt(f.type.q1, 3)}, ${PA.fmt(f.type.q3, 3)}] n=${f.type.n} · all ${PA.fmt(f.all.median, 4)}</figcaption></figure>`).join("");
  d.features.forEach((f, k) => {
    const cv = document.getElementById("d-" + k), ctx = cv.getContext("2d"), W = cv.width, H = cv.height, n = f.counts_all.length;
    if (!n) return;
    const lo = f.edges[0], hi = f.edges[n], px = (x) => 4 + (x - lo) / (hi - lo) * (W - 8);
    const pa = Math.max(1, ...f.counts_all), pt = Math.max(1, ...f.counts_type);
    for (let b = 0; b < n; b++) {
      const x0 = px(f.edges[b]), w = Math.max(1, px(f.edges[b + 1]) - x0 - 1);
      ctx.fillStyle = "rgba(150,160,170,.45)"; ctx.fillRect(x0, H - 12 - (H - 20) * f.counts_all[b] / pa, w, (H - 20) * f.counts_all[b] / pa);
      ctx.fillStyle = "rgba(124,58,237,.65)"; ctx.fillRect(x0 + w * 0.25, H - 12 - (H - 20) * f.counts_type[b] / pt, w * 0.5, (H - 20) * f.counts_type[b] / pt);
    }
    ctx.fillStyle = "#667"; ctx.font = "9px sans-serif"; ctx.textAlign = "left"; ctx.fillText(PA.fmt(lo, 3), 2, H - 1); ctx.textAlign = "right"; ctx.fillText(PA.fmt(hi, 3), W - 2, H - 1);
    cv.dataset.drawn = String(f.type.n);
  });
  document.body.dataset.ready = "1";
})().catch((e) => { document.querySelector("main").insertAdjacentHTML("beforeend", `<p class="empty">Error: ${PA.esc(e.message)}</p>`); document.body.dataset.ready = "error"; });
