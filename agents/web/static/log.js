"use strict";
// The operation log: newest first, filtered and paged by the API. The signed link's
// parameters are passed through unchanged; payloads and messages are shown as text.
const params = new URLSearchParams(location.search);
const operation = decodeURIComponent(location.pathname.split("/")[2]);
let pageNumber = 1;
// The range end first served; paging within it is stable while new entries arrive.
let pinnedUntil = null;

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function toInput(ts) { return new Date(ts * 1000).toISOString().slice(0, 16); }
function fromInput(value) { return value ? Date.parse(value + "Z") / 1000 : ""; }

async function load() {
  const query = new URLSearchParams();
  for (const k of ["from", "to", "exp", "sig"]) query.set(k, params.get(k));
  const since = fromInput(document.getElementById("since").value);
  const until = fromInput(document.getElementById("until").value);
  if (since) query.set("since", since);
  if (until || pinnedUntil !== null) query.set("until", until || pinnedUntil);
  const status = document.getElementById("status").value;
  const kind = document.getElementById("kind").value;
  if (status) query.set("status", status);
  if (kind) query.set("kind", kind);
  query.set("page", pageNumber);
  const response = await fetch(`/api/operations/${encodeURIComponent(operation)}/log?${query}`);
  if (!response.ok) { document.getElementById("range").textContent = await response.text(); return; }
  const data = await response.json();
  if (pinnedUntil === null) pinnedUntil = data.to;
  const body = document.querySelector("#log tbody");
  body.replaceChildren();
  for (const e of data.entries) {
    const tr = el("tr", { class: "entry", "data-status": e.status });
    tr.appendChild(el("td", {}, new Date(e.timestamp * 1000).toISOString().replace("T", " ").slice(0, 19)));
    tr.appendChild(el("td", {}, e.kind === "call" ? (e.count > 1 ? `${e.count} calls` : "call") : "status change"));
    const status = el("td"); status.appendChild(el("span", { class: "badge " + e.status }, e.status.replace("_", " ")));
    tr.appendChild(status);
    tr.appendChild(el("td", {}, e.source_record || ""));
    tr.appendChild(el("td", {}, e.destination_record || ""));
    tr.appendChild(el("td", {}, [e.error_code, e.error_message].filter(Boolean).join(": ")));
    const payload = el("td");
    if (e.payload_state === "present") payload.appendChild(el("pre", {}, JSON.stringify(e.payload, null, 2)));
    else if (e.payload_state === "expired") payload.appendChild(el("span", { class: "muted" }, "payload expired"));
    else if (e.payload_state === "unavailable") payload.appendChild(el("span", { class: "muted" }, "payload not available"));
    tr.appendChild(payload);
    body.appendChild(tr);
  }
  document.getElementById("empty").hidden = data.total > 0;
  const pages = Math.max(1, Math.ceil(data.total / 50));
  document.getElementById("pageinfo").textContent = `page ${data.page} of ${pages} (${data.total} entries)`;
  document.getElementById("newer").disabled = data.page <= 1;
  document.getElementById("older").disabled = data.page >= pages;
}

document.getElementById("title").textContent = operation;
document.getElementById("range").textContent = "Link valid until " +
  new Date(Number(params.get("exp")) * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC";
document.getElementById("since").value = toInput(Number(params.get("from")));
document.getElementById("until").value = toInput(Number(params.get("to")));
for (const id of ["since", "until", "status", "kind"]) {
  document.getElementById(id).addEventListener("change", () => { pageNumber = 1; pinnedUntil = null; load(); });
}
document.getElementById("newer").addEventListener("click", () => { pageNumber -= 1; load(); });
document.getElementById("older").addEventListener("click", () => { pageNumber += 1; load(); });
load();
setInterval(load, 30000);
