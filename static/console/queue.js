// The open calls: most urgent first, then oldest; status, address, units, unmet needs,
// flags, and the time since the call came in. `/` filters.

import { select } from "./call-detail.js";
import { state, view } from "./ctx.js";
import { $, fill, h } from "./dom.js";
import { typeName } from "./lookup.js";
import { invalidate } from "./render.js";
import { ALERT, _, elapsed, statusLabel, unmetText } from "./words.js";

function callMatches(call, needle) {
  if (!needle) return true;
  const hay = [call.reference, call.caller_phone, call.caller_name, call.address, call.description, typeName(call.incident_type),
    ...(call.assignments || []).map((a) => a.unit.callsign)].join(" ").toLowerCase();
  return needle.split(/\s+/).every((w) => hay.includes(w));
}

export function renderQueue() {
  const selectedId = view.selectedId;
  const needle = $("queue-filter").value.trim().toLowerCase();
  const all = state.queue();
  const calls = all.filter((c) => callMatches(c, needle));
  const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("#queue-list [data-id]");
  const focusId = focused ? Number(focused.dataset.id) : null;
  $("queue-count").textContent = needle ? `${calls.length}/${all.length}` : String(all.length);
  $("queue-empty").hidden = calls.length > 0;
  fill($("queue-list"), ...calls.map((call) => {
    const flags = state.callFlags(call);
    const units = state.activeAssignments(call).map((a) => h("span", { class: `unit-chip svc-${a.unit.service} as-${a.status}`, title: statusLabel(a.status) }, a.unit.callsign));
    const item = h("li", {
      class: ["qi", `p${call.priority}`, call.id === selectedId ? "selected" : "", flags.some((f) => f !== "hold") ? "flagged" : ""].join(" "),
      dataset: { id: call.id, reference: call.reference }, tabindex: call.id === selectedId || (!selectedId && call === calls[0]) ? "0" : "-1",
      role: "button", "aria-current": call.id === selectedId ? "true" : null,
      onclick: () => select(call.id),
      onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(call.id, { focusDetail: e.key === "Enter" }); } },
    },
    h("div", { class: "qi-line" },
      h("span", { class: `prio p${call.priority}` }, `P${call.priority}`),
      h("span", { class: "ref" }, call.reference),
      h("span", { class: "type" }, typeName(call.incident_type)),
      h("span", { class: "age", dataset: { since: call.received_at }, title: _("Time since received") }, elapsed(call.received_at))),
    h("div", { class: "qi-line sub" },
      h("span", { class: `status st-${call.status}` }, statusLabel(call.status)),
      h("span", { class: "addr" }, call.address || (call.location ? `${call.location.lat.toFixed(4)}, ${call.location.lon.toFixed(4)}` : "")),
      units),
    flags.length || (call.unmet_needs || []).length ? h("div", { class: "qi-line flags" },
      flags.map((f) => h("span", { class: `flag flag-${f}` }, ALERT[f] || f)),
      (call.unmet_needs || []).filter(() => !flags.includes("no_location")).map((n) => h("span", { class: "need" }, unmetText(n)))) : null);
    return item;
  }));
  if (focusId) {
    const again = $("queue-list").querySelector(`[data-id="${focusId}"]`);
    if (again) again.focus();
  }
}

// ↑/↓ (J/K) through the queue: from the focused item, else from the open call.
export function moveInQueue(step) {
  const items = [...$("queue-list").querySelectorAll("[data-id]")];
  if (!items.length) return;
  const ids = items.map((el) => Number(el.dataset.id));
  const focusedEl = document.activeElement && document.activeElement.closest && document.activeElement.closest("#queue-list [data-id]");
  const from = focusedEl ? ids.indexOf(Number(focusedEl.dataset.id)) : ids.indexOf(view.selectedId);
  const to = from < 0 ? 0 : Math.max(0, Math.min(ids.length - 1, from + step));
  select(ids[to]);
  requestAnimationFrame(() => { const el = $("queue-list").querySelector(`[data-id="${ids[to]}"]`); if (el) el.focus(); });
}

export function setupQueue() {
  $("queue-filter").addEventListener("input", () => invalidate("queue"));
  $("queue-filter").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { const first = $("queue-list").querySelector("[data-id]"); if (first) select(Number(first.dataset.id)); }
    if (e.key === "ArrowDown") { e.preventDefault(); const first = $("queue-list").querySelector("[data-id]"); if (first) first.focus(); }
  });
}
