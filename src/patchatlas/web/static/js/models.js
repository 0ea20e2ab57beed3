"use strict";
(async function () {
  const d = await PA.api("/api/models?limit=1000");
  if (!d.items.length) document.getElementById("models-empty").hidden = false;
  else PA.table(document.getElementById("models"), d.items, ["cell_id", "kind", "name"], {html: {cell_id: (v) => `<a href="/cells/${PA.cellPath(v)}">${PA.esc(v)}</a>`}});
  document.body.dataset.ready = "1";
})();
