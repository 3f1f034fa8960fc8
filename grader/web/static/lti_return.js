// The deep-linking answer goes back to the LMS at once; the button is there for browsers without
// scripts.
document.addEventListener("DOMContentLoaded", function () {
  const form = document.getElementById("deep-link-return");
  if (form) form.submit();
});
