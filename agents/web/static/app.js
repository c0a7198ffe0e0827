"use strict";
// The dashboard: one row per operation, grouped by integration, refreshed every 10 s.
// Everything from events is written with textContent, never as HTML.
const LABELS = { ok: "ok", some_problems: "some problems", many_problems: "many problems",
  no_calls: "no calls", learning: "learning" };
let rows = [];

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function percent(x) { return x === null || x === undefined ? "–" : (x * 100).toFixed(x < 0.1 ? 1 : 0) + "%"; }
function ago(ts) {
  if (!ts) return "never";
  const s = Date.now() / 1000 - ts;
  if (s < 90) return Math.max(0, Math.round(s)) + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  if (s < 172800) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
}

function sparkline(calls, errors) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark"); svg.setAttribute("viewBox", "0 0 120 28");
  const max = Math.max(1, ...calls);
  calls.forEach((c, i) => {
    const h = Math.round((c / max) * 26), e = Math.round(((errors[i] || 0) / max) * 26);
    const bar = document.createElementNS(ns, "rect");
    bar.setAttribute("x", i * 5); bar.setAttribute("y", 28 - h); bar.setAttribute("width", 4);
    bar.setAttribute("height", h); bar.setAttribute("fill", "#8c959f"); svg.appendChild(bar);
    if (e) { const red = document.createElementNS(ns, "rect");
      red.setAttribute("x", i * 5); red.setAttribute("y", 28 - e); red.setAttribute("width", 4);
      red.setAttribute("height", e); red.setAttribute("fill", "#c62828"); svg.appendChild(red); }
  });
  const title = document.createElementNS(ns, "title");
  title.textContent = "Calls per hour, last 24 h (errors in red)"; svg.appendChild(title);
  return svg;
}

// The server filters and pages (problems first): the page stays usable at 100,000 operations.
const PAGE = 200;
let offset = 0;
let total = 0;

function render() {
  const main = document.getElementById("groups");
  main.replaceChildren();
  const groups = new Map();
  for (const r of rows) {
    const key = r.integration || "other";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  for (const [name, items] of [...groups.entries()].sort()) {
    main.appendChild(el("h2", {}, name));
    const table = el("table");
    const head = el("tr");
    for (const [t, cls] of [["Operation"], ["Status"], ["Calls today", "num"], ["Errors today", "num"],
      ["Error ratio now / normal", "wide"], ["Calls last hour / expected", "wide"], ["Last call"], ["24 h", "wide"], ["Log"]]) {
      head.appendChild(el("th", cls ? { class: cls } : {}, t));
    }
    table.appendChild(el("thead")).appendChild(head);
    const body = table.appendChild(el("tbody"));
    for (const r of items) {
      const tr = el("tr", { "data-operation": r.operation, "data-status": r.status });
      const name = el("td"); name.appendChild(el("strong", {}, r.operation));
      if (r.reason) { name.appendChild(el("br")); name.appendChild(el("span", { class: "reason" }, r.reason)); }
      if (r.pattern) { name.appendChild(el("br")); name.appendChild(el("span", { class: "reason" }, r.pattern)); }
      if (r.in_flight) { name.appendChild(el("br")); name.appendChild(el("span", { class: "reason" }, r.in_flight + " events in flight")); }
      tr.appendChild(name);
      const badge = el("td"); badge.appendChild(el("span", { class: "badge " + r.status }, LABELS[r.status] || r.status));
      if (r.guidance && r.status !== "ok") { badge.appendChild(el("br")); badge.appendChild(el("span", { class: "guidance" }, r.guidance)); }
      tr.appendChild(badge);
      tr.appendChild(el("td", { class: "num" }, String(r.calls_today)));
      tr.appendChild(el("td", { class: "num" }, String(r.errors_today)));
      tr.appendChild(el("td", { class: "wide" }, percent(r.error_ratio_now) + " / " + percent(r.error_ratio_normal)));
      const expected = r.expected_last_hour === null ? "–" : Math.round(r.expected_last_hour);
      tr.appendChild(el("td", { class: "wide" }, r.calls_last_hour + " / " + expected));
      tr.appendChild(el("td", {}, ago(r.last_call_at)));
      const spark = el("td", { class: "wide" }); spark.appendChild(sparkline(r.hourly_calls, r.hourly_errors));
      tr.appendChild(spark);
      const log = el("td"); log.appendChild(el("a", { href: r.log_url, class: "log-link" }, "log"));
      tr.appendChild(log);
      body.appendChild(tr);
    }
    main.appendChild(table);
  }
  if (!rows.length) main.appendChild(el("p", { class: "muted" }, "No operations match."));
}

function query() {
  const params = new URLSearchParams({ offset: String(offset), limit: String(PAGE) });
  const q = document.getElementById("search").value.trim();
  const integration = document.getElementById("integration").value;
  const status = document.getElementById("status").value;
  if (q) params.set("q", q);
  if (integration) params.set("integration", integration);
  if (status) params.set("status", status);
  return params;
}

function pager() {
  const nav = document.getElementById("pager");
  nav.replaceChildren();
  if (total <= PAGE) return;
  const prev = el("button", { type: "button" }, "Previous");
  prev.disabled = offset === 0;
  prev.addEventListener("click", () => { offset = Math.max(0, offset - PAGE); refresh(); });
  const next = el("button", { type: "button" }, "Next");
  next.disabled = offset + PAGE >= total;
  next.addEventListener("click", () => { offset += PAGE; refresh(); });
  nav.append(prev, el("span", {}, ` ${offset + 1}–${Math.min(offset + PAGE, total)} of ${total} `), next);
}

async function refresh() {
  try {
    const response = await fetch("/api/operations?" + query());
    if (response.status === 401) { location.assign("/login?next=/"); return; }
    const data = await response.json();
    rows = data.operations;
    total = data.total;
    const select = document.getElementById("integration");
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "" }, "All integrations"));
    for (const n of data.integrations) select.appendChild(el("option", { value: n }, n));
    select.value = chosen;
    document.getElementById("updated").textContent =
      `${data.all} operations, ${data.problems} with problems; ${total} shown here, worst first. ` +
      `Updated ${new Date().toLocaleTimeString()}.`;
    render();
    pager();
  } catch (err) {
    document.getElementById("updated").textContent = "Could not reach the worker: " + err;
  }
}

let typing;
for (const id of ["search", "integration", "status"]) {
  document.getElementById(id).addEventListener("input", () => {
    offset = 0;
    clearTimeout(typing);
    typing = setTimeout(refresh, 250);
  });
}
refresh();
setInterval(refresh, 10000);
