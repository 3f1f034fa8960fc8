// Polls the submission's status and updates the page; reloads once grading has finished so the
// results (rendered on the server) appear without the student pressing anything.
(function () {
  const section = document.getElementById("status");
  if (!section || section.dataset.finished === "true") return;
  const badge = document.getElementById("status-badge");
  const bar = document.getElementById("progress");
  const text = document.getElementById("progress-text");

  async function poll() {
    try {
      const response = await fetch(section.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const run = await response.json();
        if (run.finished) { window.location.reload(); return; }
        badge.textContent = run.status;
        badge.className = "badge " + run.status;
        bar.max = run.progress.cells_total || 1;
        bar.value = run.progress.cells_done;
        text.textContent = run.status === "running"
          ? `Running cell ${run.progress.cells_done} of ${run.progress.cells_total}…`
          : "Waiting for a grader to pick it up…";
      }
    } catch (error) {
      text.textContent = "Lost contact with the server; retrying…";
    }
    setTimeout(poll, 1500);
  }
  setTimeout(poll, 1000);
})();
