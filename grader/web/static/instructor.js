// While a validation is queued or running, poll its status; when it finishes, swap in the server-rendered
// outcome section. Only that section changes, so settings typed into the form above are not lost.
(function () {
  const section = document.getElementById("validation");
  if (!section || section.dataset.finished === "true") return;

  async function poll() {
    try {
      const response = await fetch(section.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const validation = await response.json();
        const badge = document.getElementById("validation-status");
        if (badge && validation.status) {
          badge.textContent = validation.status;
          badge.className = "badge " + validation.status;
        }
        if (validation.finished) {
          const page = await fetch(window.location.pathname);
          const fresh = new DOMParser().parseFromString(await page.text(), "text/html").getElementById("validation");
          if (fresh) { section.replaceWith(fresh); return; }
        }
      }
    } catch (error) { /* the server is restarting or the network dropped: try again */ }
    setTimeout(poll, 1500);
  }
  setTimeout(poll, 1000);
})();
