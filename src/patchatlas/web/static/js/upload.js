/* Upload page: send the files with the token, then follow the background ingest. */
"use strict";
(function () {
  const form = document.getElementById("upload-form"), tok = document.getElementById("token");
  tok.value = sessionStorage.getItem("patchatlas-token") || "";
  const $ = (x) => document.getElementById(x);
  async function follow(job) {
    $("job").hidden = false;
    for (;;) {
      const r = await fetch("/api/uploads/jobs/" + job, {headers: {Accept: "application/json"}});
      const j = await r.json();
      $("job-state").textContent = j.state; $("job-state").className = "pill " + (j.state === "done" ? (j.failed ? "warn" : "ok") : j.state === "failed" ? "bad" : "");
      const total = j.n_total || 0;
      $("job-progress").max = Math.max(1, total); $("job-progress").value = j.n_finished || 0;
      $("job-text").textContent = j.state === "failed" ? "The ingest failed: " + (j.message || "") : `${j.n_finished || 0} of ${total || "?"} cells processed · ${j.done} done, ${j.skipped} skipped, ${j.failed} failed`;
      PA.table($("job-failures"), j.failures, ["cell", "file", "reason"], {empty: j.state === "done" ? "No file failed." : "…"});
      if (j.state === "done" || j.state === "failed") { $("job-done").hidden = j.state !== "done"; document.body.dataset.job = j.state; return j; }
      await new Promise((res) => setTimeout(res, 400));
    }
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    sessionStorage.setItem("patchatlas-token", tok.value);
    const fd = new FormData();
    for (const f of $("files").files) fd.append("files", f);
    if ($("metadata").files.length) fd.append("metadata", $("metadata").files[0]);
    $("job").hidden = false; $("job-text").textContent = "Uploading…"; $("job-state").textContent = "uploading";
    const r = await fetch("/api/uploads/batch", {method: "POST", body: fd, headers: {Authorization: "Bearer " + tok.value}});
    const d = await r.json().catch(() => ({}));
    if (!r.ok) { $("job-state").textContent = "refused"; $("job-state").className = "pill bad"; $("job-text").textContent = `${r.status}: ${d.detail || r.statusText}`; document.body.dataset.job = "refused"; return; }
    await follow(d.job);
  });
  document.body.dataset.ready = "1";
})();
