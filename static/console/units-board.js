// The units board: every unit, its status, how old its position is, its current call;
// counts by status group and filters by service, group and text.

import { openCall } from "./call-detail.js";
import { cfg, isBusy, isStale, state } from "./ctx.js";
import { $, fill, h } from "./dom.js";
import { focusUnit } from "./map.js";
import { invalidate } from "./render.js";
import { SERVICE_ORDER, _, age, clock, serviceLabel, statusLabel } from "./words.js";

// The board's groups, all from the server's lists (status_config): each free status, then
// "busy" (working an assignment), then every other status on its own, in the server's order.
const { all: ALL, free: FREE, busy: BUSY } = cfg.statuses.unit;
const GROUPS = [
  ...FREE.map((status) => ({ key: status, label: statusLabel(status), has: (u) => u.status === status })),
  { key: "busy", label: _("Busy"), has: isBusy },
  ...ALL.filter((status) => !FREE.includes(status) && !BUSY.includes(status))
    .map((status) => ({ key: status, label: statusLabel(status), has: (u) => u.status === status })),
];

const callsignCompare = (a, b) => a.localeCompare(b, undefined, { numeric: true });

export function renderUnits() {
  const needle = $("units-filter").value.trim().toLowerCase();
  const service = $("units-service").value;
  const group = GROUPS.find((g) => g.key === $("units-status").value);
  const all = [...state.units.values()];
  const stale = all.filter((u) => isStale(u) && u.status !== "out_of_service").length;
  fill($("units-summary"),
    GROUPS.map((g) => {
      const count = all.filter(g.has).length;
      return h("span", { class: `st-${g.key}`, dataset: { status: g.key, count } }, `${g.label} ${count}`);
    }),
    h("span", { class: "stale", dataset: { status: "stale", count: stale } }, `${_("Stale position")} ${stale}`));
  const units = all
    .filter((u) => !service || u.service === service)
    .filter((u) => !group || group.has(u))
    .filter((u) => !needle || `${u.callsign} ${u.active_assignment ? u.active_assignment.call_reference : ""} ${u.capabilities.join(" ")}`.toLowerCase().includes(needle))
    .sort((a, b) => SERVICE_ORDER.indexOf(a.service) - SERVICE_ORDER.indexOf(b.service) || callsignCompare(a.callsign, b.callsign));
  fill($("units-body"), ...units.map((u) => {
    const isOld = isStale(u);
    const recorded = u.location && u.location.recorded_at;
    return h("tr", { dataset: { unit: u.id }, class: isOld ? "stale" : "" },
      h("td", {}, h("button", { type: "button", class: `unit-chip svc-${u.service}`, title: serviceLabel(u.service),
        onclick: () => focusUnit(u.id) }, u.callsign),
      u.capabilities.length ? h("span", { class: "caps" }, u.capabilities.join(" ")) : null),
      h("td", {}, h("span", { class: `status st-${u.status}` }, statusLabel(u.status))),
      h("td", { class: isOld ? "pos stale" : "pos", title: recorded ? clock(recorded) : "" },
        recorded ? h("span", { dataset: { age: recorded } }, age(recorded)) : "—",
        isOld ? h("span", { class: "flag flag-stale" }, _("stale")) : null),
      h("td", {}, u.active_assignment
        ? [h("button", { type: "button", class: "link-button", onclick: () => openCall(u.active_assignment.call) },
          u.active_assignment.call_reference),
        h("div", { class: `status st-${u.active_assignment.status}` }, statusLabel(u.active_assignment.status))]
        : ""));
  }));
}

export function setupUnitsBoard() {
  // The status filter offers the groups; "all statuses" comes with the page.
  $("units-status").append(...GROUPS.map((g) => h("option", { value: g.key }, g.label)));
  ["units-filter", "units-service", "units-status"].forEach((id) => $(id).addEventListener("input", () => invalidate("units")));
}
