"use strict";
// Who is logged in, the log-out form (with its CSRF token), and filter forms that never
// submit. A page opened by a signed link alone has no session: the form stays hidden.
for (const form of document.querySelectorAll("form.filters")) {
  form.addEventListener("submit", (event) => event.preventDefault());
}
(async () => {
  const response = await fetch("/api/me");
  if (!response.ok) return;
  const me = await response.json();
  document.getElementById("who").textContent = `${me.name} (${me.role})`;
  document.getElementById("csrf").value = me.csrf;
  document.getElementById("session").hidden = false;
})();
