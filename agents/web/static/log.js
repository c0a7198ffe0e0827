"use strict";
// The operation log: one row per event (its timeline on demand), stuck events first, then
// newest first; repeated failures grouped above. Filtered and paged by the API; the
// signed link's parameters are passed through unchanged. Everything from events is
// written with textContent, never as HTML.
const params = new URLSearchParams(location.search);
const operation = decodeURIComponent(location.pathname.split("/")[2]);
const LABELS = { success: "delivered", error: "failed", retrying: "retrying", received: "received",
  processing: "processing", some_problems: "some problems", many_problems: "many problems",
  no_calls: "no calls" };
let pageNumber = 1;
// The range end first served; paging within it is stable while new entries arrive.
let pinnedUntil = null;
let example = null; // A failure group's example being shown alone.
const open = new Set(); // Events whose timeline is open, kept across refreshes.

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function label(status) { return LABELS[status] || status.replace("_", " "); }
function stamp(ts) { return new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 19); }
function clock(ts) { return stamp(ts).slice(11); }
function minutes(seconds) { return Math.max(1, Math.round(seconds / 60)) + " min"; }
function toInput(ts) { return new Date(ts * 1000).toISOString().slice(0, 16); }
function fromInput(value) { return value ? Date.parse(value + "Z") / 1000 : ""; }
function value(id) { return document.getElementById(id).value.trim(); }

function badge(status) { return el("span", { class: "badge " + status }, label(status)); }

// "received 10:00:01, processing 10:00:02, retrying 10:00:05 (503 unavailable), ..."
function timeline(e, until) {
  const list = el("ol", { class: "steps" });
  for (const s of e.steps) {
    const item = el("li", { "data-status": s.status });
    item.appendChild(badge(s.status));
    item.appendChild(el("time", {}, " " + (s.timestamp - e.first_seen < 86400 ? clock(s.timestamp) : stamp(s.timestamp))));
    const why = [s.error_code, s.error_message].filter(Boolean).join(" ");
    if (why) item.appendChild(el("span", { class: "muted" }, " " + why));
    list.appendChild(item);
  }
  if (e.stuck) {
    const last = e.steps[e.steps.length - 1];
    list.appendChild(el("li", { class: "stuck" },
      `nothing since: stuck in ${label(last.status)} for ${minutes(until - last.timestamp)}`));
  }
  return list;
}

function eventRow(e, until, body) {
  const tr = el("tr", { class: "entry event", "data-status": e.status, "data-event": e.event_id,
    "data-stuck": String(e.stuck), "data-event-type": e.event_type || "" });
  tr.appendChild(el("td", {}, stamp(e.first_seen)));
  const type = el("td"); type.appendChild(el("span", {}, e.event_type || "event"));
  const toggle = el("button", { type: "button", class: "toggle-timeline", "aria-expanded": String(open.has(e.event_id)) },
    `timeline (${e.steps.length})`);
  type.appendChild(el("br")); type.appendChild(toggle);
  tr.appendChild(type);
  const status = el("td"); status.appendChild(badge(e.status));
  if (e.stuck) { status.appendChild(el("br")); status.appendChild(el("span", { class: "badge stuck" }, "stuck")); }
  tr.appendChild(status);
  const detail = el("tr", { class: "timeline" });
  const cell = el("td", { colspan: "7" }); cell.appendChild(timeline(e, until)); detail.appendChild(cell);
  detail.hidden = !open.has(e.event_id);
  toggle.addEventListener("click", () => {
    detail.hidden = !detail.hidden;
    toggle.setAttribute("aria-expanded", String(!detail.hidden));
    if (detail.hidden) open.delete(e.event_id); else open.add(e.event_id);
  });
  return [tr, detail];
}

function entryRow(e) {
  const tr = el("tr", { class: "entry", "data-status": e.status });
  tr.appendChild(el("td", {}, stamp(e.timestamp)));
  tr.appendChild(el("td", {}, e.kind === "call" ? (e.count > 1 ? `${e.count} calls` : "call") : "status change"));
  const status = el("td"); status.appendChild(badge(e.status));
  tr.appendChild(status);
  return tr;
}

function details(tr, e) {
  tr.appendChild(el("td", {}, e.source_record || ""));
  tr.appendChild(el("td", {}, e.destination_record || ""));
  tr.appendChild(el("td", {}, [e.error_code, e.error_message].filter(Boolean).join(": ")));
  const payload = el("td");
  if (e.payload_state === "present") payload.appendChild(el("pre", {}, JSON.stringify(e.payload, null, 2)));
  else if (e.payload_state === "expired") payload.appendChild(el("span", { class: "muted" }, "payload expired"));
  else if (e.payload_state === "unavailable") payload.appendChild(el("span", { class: "muted" }, "payload not available"));
  tr.appendChild(payload);
}

function renderGroups(groups) {
  const body = document.querySelector("#groups tbody");
  body.replaceChildren();
  document.getElementById("failures").hidden = groups.length === 0;
  for (const g of groups) {
    const tr = el("tr", { class: "group", "data-count": String(g.count) });
    const what = el("td");
    what.appendChild(el("strong", {}, g.error_code || "no code"));
    if (g.error_message) { what.appendChild(el("br")); what.appendChild(el("span", {}, g.error_message)); }
    tr.appendChild(what);
    tr.appendChild(el("td", { class: "num" }, String(g.count)));
    tr.appendChild(el("td", {}, stamp(g.first)));
    tr.appendChild(el("td", {}, stamp(g.last)));
    const cell = el("td");
    const button = el("button", { type: "button", class: "open-example" }, "open example");
    button.addEventListener("click", () => { example = g.example; pageNumber = 1; load(); });
    cell.appendChild(button); tr.appendChild(cell);
    body.appendChild(tr);
  }
}

function renderTypes(types) {
  const select = document.getElementById("event_type");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "All event types"));
  for (const t of new Set([...types, ...(chosen ? [chosen] : [])])) select.appendChild(el("option", { value: t }, t));
  select.value = chosen;
}

async function load() {
  const query = new URLSearchParams();
  for (const k of ["from", "to", "exp", "sig"]) query.set(k, params.get(k));
  const since = fromInput(document.getElementById("since").value);
  const until = fromInput(document.getElementById("until").value);
  if (since) query.set("since", since);
  if (until || pinnedUntil !== null) query.set("until", until || pinnedUntil);
  for (const k of ["status", "kind", "event_type", "record"]) if (value(k)) query.set(k, value(k));
  if (example) query.set("entry", example);
  query.set("page", pageNumber);
  const response = await fetch(`/api/operations/${encodeURIComponent(operation)}/log?${query}`);
  if (!response.ok) { document.getElementById("range").textContent = await response.text(); return; }
  const data = await response.json();
  if (pinnedUntil === null) pinnedUntil = data.to;
  const body = document.querySelector("#log tbody");
  body.replaceChildren();
  for (const e of data.entries) {
    const [tr, ...more] = e.steps ? eventRow(e, data.to) : [entryRow(e)];
    details(tr, e);
    body.append(tr, ...more);
  }
  const note = document.getElementById("stuck-note");
  note.hidden = !data.stuck;
  note.textContent = `${data.stuck} ${data.stuck === 1 ? "event" : "events"} stuck in received or ` +
    `processing for more than ${minutes(data.stuck_after)}, shown first. Our middleware may have an ` +
    "issue: contact us.";
  renderGroups(data.groups || []);
  renderTypes(data.event_types || []);
  document.getElementById("showing").hidden = !example;
  document.getElementById("showing-text").textContent = "Showing one example of a repeated failure. ";
  document.getElementById("empty").hidden = data.total > 0;
  const pages = Math.max(1, Math.ceil(data.total / 50));
  document.getElementById("pageinfo").textContent = `page ${data.page} of ${pages} (${data.total} entries)`;
  document.getElementById("newer").disabled = data.page <= 1;
  document.getElementById("older").disabled = data.page >= pages;
}

function refilter() { pageNumber = 1; pinnedUntil = null; example = null; load(); }

document.getElementById("title").textContent = operation;
document.getElementById("range").textContent = "Link valid until " +
  new Date(Number(params.get("exp")) * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC";
document.getElementById("since").value = toInput(Number(params.get("from")));
document.getElementById("until").value = toInput(Number(params.get("to")));
for (const id of ["since", "until", "status", "kind", "event_type"]) {
  document.getElementById(id).addEventListener("change", refilter);
}
let typing;
document.getElementById("record").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(refilter, 300); });
document.getElementById("filters").addEventListener("submit", (event) => { event.preventDefault(); refilter(); });
document.getElementById("show-all").addEventListener("click", refilter);
document.getElementById("newer").addEventListener("click", () => { pageNumber -= 1; load(); });
document.getElementById("older").addEventListener("click", () => { pageNumber += 1; load(); });
load();
setInterval(load, 30000);
