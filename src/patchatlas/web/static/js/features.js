"use strict";
(async function () {
  const d = await PA.api("/api/features/registry");
  if (!d.features.length) document.getElementById("registry-empty").hidden = false;
  else PA.table(document.getElementById("registry"), d.features, ["name", "kind", "level", "unit", "native_name", "n_cells", "definition", "window", "convention"]);
  document.body.dataset.ready = "1";
})();
