// Drag-and-drop for the upload form: a notebook dropped anywhere on the zone becomes the file input's
// file, so the form submits exactly as if it had been picked (and works the same without JavaScript).
(function () {
  const zone = document.getElementById("dropzone");
  if (!zone) return;
  const input = document.getElementById("file");
  const hint = zone.querySelector("p");

  function show(files) {
    hint.textContent = files.length ? `Ready to upload ${files[0].name}.` : "…or drop the notebook file here.";
  }
  ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (event) => {
    event.preventDefault();
    zone.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    const files = event.dataTransfer.files;
    if (files.length !== 1) {
      hint.textContent = "Drop one notebook at a time.";
      return;
    }
    input.files = files;
    show(input.files);
  });
  input.addEventListener("change", () => show(input.files));
})();
