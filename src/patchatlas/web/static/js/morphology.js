/* Morphology page: features, issues and the 2-D projections (the fallback of the 3-D view, which
   morph3d.js draws when WebGL is there). Sets window.patchatlasMorph for the 3-D module. */
"use strict";
window.patchatlasMorph = (async function () {
  const id = document.getElementById("cell-id").dataset.cell, base = "/api/cells/" + PA.cellPath(id);
  const empty = document.getElementById("morph-empty");
  let m;
  try { m = await PA.api(base + "/morphology"); }
  catch (e) { empty.hidden = false; empty.textContent = "This cell has no reconstruction in the atlas."; document.getElementById("panel-3d").hidden = true; return null; }
  PA.table(document.getElementById("mfeatures"), Object.entries(m.features).map(([k, v]) => ({feature: k, value: v})), ["feature", "value"], {empty: "No morphology features stored."});
  PA.table(document.getElementById("missues"), m.issues, ["severity", "code", "message"], {empty: "No validation issues."});
  if (!m.swc_url) { empty.hidden = false; empty.textContent = "Only morphology features are stored for this cell (no SWC reconstruction file to draw)."; document.getElementById("panel-3d").hidden = true; return null; }
  const link = document.getElementById("swc-link"); link.href = m.swc_url; link.hidden = false;
  const nodes = await MV.load(m.swc_url);
  const pts = [...nodes.values()];
  if (!pts.length) { empty.hidden = false; empty.textContent = "The SWC file holds no nodes."; return null; }
  const ext = MV.extent(pts);
  const layers = (m.layer_boundaries || []).filter((l) => Number.isFinite(l.top_um));
  const pia = Number.isFinite(m.pia_y) ? m.pia_y : 0;
  if (layers.length) { const ys = layers.map((l) => pia - l.top_um).concat([pia]); ext.y = [Math.min(ext.y[0], ...ys), Math.max(ext.y[1], ...ys)]; }
  const size = Math.max(...Object.values(ext).map(([a, b]) => b - a)) || 1;
  const hidden = new Set();
  const draw2d = () => {
    const o = {ext, size, layers, pia, hidden};
    MV.draw(document.getElementById("proj-xy"), nodes, "x", "y", {...o, flipV: true});
    MV.draw(document.getElementById("proj-zy"), nodes, "z", "y", {...o, flipV: true});
    MV.draw(document.getElementById("proj-xz"), nodes, "x", "z", {...o, layers: []});
  };
  draw2d();
  const cap = document.getElementById("cap-xy");
  if (layers.length) cap.textContent = m.layer_aligned ? "x–y, layer-aligned view: pia at the top, dashed lines = layer boundaries (reference depths the reconstruction was aligned to)" : "x–y with the stored layer boundaries (dashed), pia at the top";
  document.getElementById("morph-info").textContent = `${pts.length} nodes; extent x ${PA.fmt(ext.x[1] - ext.x[0], 3)} µm, y ${PA.fmt(ext.y[1] - ext.y[0], 3)} µm, z ${PA.fmt(ext.z[1] - ext.z[0], 3)} µm`;
  return {m, nodes, layers, pia, hidden, draw2d};
})();
window.patchatlasMorph.then((r) => { if (!r) document.body.dataset.ready = "1"; }).catch((e) => { document.getElementById("morph-empty").hidden = false; document.getElementById("morph-empty").textContent = e.message; document.body.dataset.ready = "error"; });
