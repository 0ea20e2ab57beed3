"use strict";
(async function () {
  const bySel = document.getElementById("by");
  async function load() {
    const d = await PA.api("/api/connectivity?by=" + bySel.value), el = document.getElementById("matrix");
    if (!d.classes.length) { el.innerHTML = ""; document.getElementById("conn-empty").hidden = false; return; }
    const cell = {}; for (const c of d.matrix) cell[c.pre + "\u0000" + c.post] = c;
    let h = "<table><tr><th>pre \\ post</th>" + d.classes.map((c) => `<th>${PA.esc(c)}</th>`).join("") + "</tr>";
    for (const a of d.classes) {
      h += `<tr><th>${PA.esc(a)}</th>`;
      for (const b of d.classes) {
        const c = cell[a + "\u0000" + b];
        if (!c.n_tested) { h += '<td class="mx muted">–</td>'; continue; }
        const p = c.probability, bg = `rgba(37,99,235,${(0.08 + 0.8 * p).toFixed(2)})`;
        h += `<td class="mx" style="background:${bg}" title="95% CI ${PA.fmt(c.ci_low, 2)}–${PA.fmt(c.ci_high, 2)}">${c.n_connected}/${c.n_tested}<br><small>${PA.fmt(p, 2)} [${PA.fmt(c.ci_low, 2)}, ${PA.fmt(c.ci_high, 2)}]</small></td>`;
      }
      h += "</tr>";
    }
    el.innerHTML = h + "</table>";
  }
  bySel.addEventListener("change", load); await load();
  const dist = await PA.api("/api/connectivity/distance");
  const mid = dist.bins.map((b) => (b.from_um + b.to_um) / 2);
  const series = [{x: mid, y: dist.bins.map((b) => b.probability), lo: dist.bins.map((b) => b.ci_low), hi: dist.bins.map((b) => b.ci_high), line: false, points: true, color: "#2563eb"}];
  let prof = null;
  try { prof = await PA.api("/api/connectivity/profile"); } catch (e) { prof = null; }
  const all = prof && prof.profiles.find((r) => r.pre === "all");
  if (all) series.push({x: all.curve.x, y: all.curve.y, color: "#dc2626"});
  if (!PA.xyPlot(document.getElementById("distance"), series, {xlabel: "intersomatic distance (µm)", ylabel: "connection probability", y0: 0})) {
    document.getElementById("distance").hidden = true; document.getElementById("dist-empty").hidden = false;
  } else if (prof && prof.profiles.length) {
    PA.table(document.getElementById("profiles"), prof.profiles.map((r) => ({pre: r.pre, post: r.post, connected: `${r.n_connected}/${r.n_tested}`, p_max: r.p_max, ci: `${PA.fmt(r.ci_low, 3)}–${PA.fmt(r.ci_high, 3)}`, sigma_um: r.sigma_um})));
  }
  const pairs = await PA.api("/api/pairs?connected=true&limit=200");
  PA.table(document.getElementById("synapses"), pairs.items, ["pair_id", "experiment", "pre_cell", "post_cell", "synapse_type", "distance_um"], {empty: "No connected pair stored.", html: {pair_id: (v) => `<a href="/pairs/${encodeURIComponent(v)}">${PA.esc(v)}</a>`}});
  document.body.dataset.ready = "1";
})();
