// The open call: its details, the units on it (cancel = press twice), the nearest free
// units with Assign, the timeline, and the actions (call-actions.js).

import { buildActions, refOf, section } from "./call-actions.js";
import { act, api, assign, isFree, isStale, state, view } from "./ctx.js";
import { $, confirmButton, debounce, failed, fill, h, haversine } from "./dom.js";
import { typeName } from "./lookup.js";
import { map } from "./map.js";
import { invalidate } from "./render.js";
import { showTab } from "./tabs.js";
import { ALERT, CHANNEL, EVENT, HOLD, SOURCE, _, clock, dispositionLabel, elapsed, eta, fmt, metres, serviceLabel, statusLabel, unmetText } from "./words.js";

// A partner's picture or video of the scene: only an http(s) link is made clickable.
function mediaLink(url) {
  if (!url || !/^https?:\/\//i.test(url)) return null;
  return [" · ", h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, _("picture"))];
}

let detail = null;  // the DOM parts of the open call: {id, live, assignments, candidates, actions, timeline, radius}

// Open a call that may not be in the state (a closed one, from the units board or a link).
export async function openCall(id) {
  if (!state.calls.has(id)) {
    try { state.noteCall(await api.call(id), { pin: true }); } catch (error) { failed(error); return; }
  }
  select(id);
}

export function select(id, { focusDetail = false } = {}) {
  const previous = view.selectedId;
  if (previous && previous !== id) state.unpin(previous);
  view.selectedId = id;
  const call = state.calls.get(id);
  if (call) call._pinned = true;
  showTab("call");
  buildDetail();
  invalidate("queue", "map");
  if (call && call.location && previous !== id) {
    const at = [call.location.lat, call.location.lon];
    if (!map.getBounds().pad(-0.15).contains(at)) map.panTo(at);
  }
  if (focusDetail) $("call-detail").focus();
}

function buildDetail() {
  const root = $("call-detail");
  const call = view.selectedId && state.calls.get(view.selectedId);
  if (!call) {
    detail = null;
    fill(root, h("p", { class: "empty" }, _("Select a call in the queue or on the map.")));
    return;
  }
  detail = {
    id: call.id,
    live: h("div", { class: "d-live" }),
    assignments: h("div", { class: "d-assignments" }),
    candidates: h("div", { class: "d-candidates" }),
    actions: buildActions(call),
    timeline: h("ol", { class: "timeline" }),
    radius: 5000,
  };
  root.tabIndex = -1;
  fill(root,
    detail.live,
    section(_("Units on this call"), detail.assignments),
    section(_("Nearest available units"), detail.candidates),
    detail.actions.note,
    section(_("Timeline"), detail.timeline),
    detail.actions.more);
  renderDetail();
  loadCandidates();
  loadTimeline();
}

export function renderDetail() {
  if (!detail) return;
  const call = state.calls.get(detail.id);
  if (!call) { buildDetail(); return; }
  const open = state.isOpen(call);
  const flags = state.callFlags(call);
  const loc = call.location;
  const row = (label, ...value) => [h("dt", {}, label), h("dd", {}, ...value)];
  fill(detail.live,
    h("div", { class: "d-head" },
      h("span", { class: `prio big p${call.priority}` }, `P${call.priority}`),
      h("div", { class: "d-title" },
        h("h2", {}, call.reference, " ", h("span", { class: `status st-${call.status}` }, statusLabel(call.status))),
        h("div", { class: "d-type" }, typeName(call.incident_type))),
      h("span", { class: "age big", dataset: { since: call.received_at }, title: _("Time since received") }, elapsed(call.received_at))),
    flags.length ? h("div", { class: "d-flags" }, flags.map((f) => h("span", { class: `flag flag-${f}` }, ALERT[f] || f))) : null,
    call.hold_reason ? h("div", { class: "hold" },
      h("strong", {}, _("Held:"), " "), HOLD[call.hold_reason] || call.hold_reason, " ",
      (call.possible_duplicates || []).map((d) => h("button", { type: "button", class: "link-button", onclick: () => openCall(d) }, refOf(d))), " ",
      open ? h("button", { type: "button", class: "btn btn-primary btn-small", id: "d-release", onclick: () => act(api.release(call.id), _("Released for dispatch")) }, _("Release and dispatch")) : null) : null,
    h("dl", { class: "d-info" },
      row(_("Phone"), call.caller_phone || "—", call.caller_name ? ` · ${call.caller_name}` : ""),
      row(_("Channel"), CHANNEL[call.channel] || call.channel),
      call.alarm ? row(_("Alarm"), `${call.alarm.source_name || call.alarm.source} · ${call.alarm.kind}`, mediaLink(call.alarm.media_url)) : null,
      row(_("Address"), call.address || "—"),
      row(_("Location"), loc ? `${loc.lat.toFixed(5)}, ${loc.lon.toFixed(5)}${loc.accuracy_m ? ` ±${metres(loc.accuracy_m)}` : ""} · ${SOURCE[loc.source] || loc.source}` : h("span", { class: "flag flag-no_location" }, ALERT.no_location)),
      row(_("Received"), clock(call.received_at)),
      call.dispatched_at ? row(_("Dispatched"), clock(call.dispatched_at)) : null,
      call.on_scene_at ? row(_("On scene"), clock(call.on_scene_at)) : null,
      call.closed_at ? row(_("Closed"), clock(call.closed_at), call.disposition ? ` · ${dispositionLabel(call.disposition)}` : "") : null,
      call.merged_into ? row(_("Merged into"), h("button", { type: "button", class: "link-button", onclick: () => openCall(call.merged_into) }, refOf(call.merged_into))) : null,
      call.description ? row(_("Description"), h("span", { class: "desc" }, call.description)) : null,
      (call.unmet_needs || []).length ? row(_("Unmet needs"), (call.unmet_needs || []).map((n) => h("span", { class: "need" }, unmetText(n)))) : null));
  const list = call.assignments || [];
  fill(detail.assignments, list.length
    ? h("table", { class: "assignments" },
      h("thead", {}, h("tr", {}, h("th", {}, _("Unit")), h("th", {}, _("Status")), h("th", {}, _("Distance")), h("th", {}, _("Assigned")), h("th", {}))),
      h("tbody", {}, list.map((a) => h("tr", { class: state.isActive(a) ? "active" : "ended", dataset: { assignment: a.id } },
        h("td", {}, h("span", { class: `unit-chip svc-${a.unit.service}` }, a.unit.callsign)),
        h("td", {}, h("span", { class: `status st-${a.status}` }, statusLabel(a.status))),
        h("td", { title: a.basis === "road" ? metres(a.route_m || 0) : "" },
          metres(a.distance_m), a.eta_s !== null && a.eta_s !== undefined ? ` · ${eta(a.eta_s, a.basis)}` : ""),
        h("td", {}, clock(a.assigned_at)),
        h("td", {}, state.isActive(a) && open
          ? confirmButton(`assignment:${a.id}`, _("Cancel"), _("Cancel? Press again"), () => act(api.cancelAssignment(a.id, ""), fmt(_("%(unit)s taken off the call"), { unit: a.unit.callsign })), { class: "btn btn-small btn-danger" })
          : "")))))
    : h("p", { class: "muted" }, _("No unit assigned yet.")));
  detail.actions.note.hidden = !open;
  detail.actions.more.hidden = !open;
}

let candidateTicket = 0;

async function loadCandidates() {
  if (!detail) return;
  const call = state.calls.get(detail.id);
  const box = detail.candidates;
  if (!call || !state.isOpen(call)) { fill(box, h("p", { class: "muted" }, "—")); return; }
  if (!call.location) { fill(box, h("p", { class: "muted" }, _("Set the call's location to see the nearest units."))); return; }
  const mine = ++candidateTicket;
  const radius = detail.radius;
  let units;
  try { units = (await api.nearUnits(call.location.lat, call.location.lon, radius)).results; } catch (error) { failed(error); return; }
  if (mine !== candidateTicket || !detail || detail.id !== call.id) return;
  const needed = new Set((call.unmet_needs || []).map((n) => n.service));
  // The feed may have taken a unit since the server answered. Ranked by the server's
  // travel time (by road where it can, issue 16), the distance breaking ties.
  const stillFree = (u) => !state.units.has(u.id) || isFree(state.units.get(u.id));
  const time = (r) => (r.unit.eta_s === null || r.unit.eta_s === undefined ? Infinity : r.unit.eta_s);
  const ranked = units.filter((u) => u.location && stillFree(u)).map((u) => ({ unit: u, distance: haversine(call.location, u.location) }))
    .sort((a, b) => time(a) - time(b) || a.distance - b.distance).slice(0, 10);
  fill(box,
    ranked.length ? h("table", { class: "candidates" }, h("tbody", {}, ranked.map(({ unit, distance }) => h("tr", { dataset: { unit: unit.id } },
      h("td", {}, h("span", { class: `unit-chip svc-${unit.service}` }, unit.callsign)),
      h("td", {}, serviceLabel(unit.service), unit.capabilities.length ? h("span", { class: "caps" }, unit.capabilities.join(" ")) : null,
        needed.has(unit.service) ? h("span", { class: "flag flag-needed" }, _("needed")) : null),
      h("td", {}, metres(distance), unit.eta_s !== null && unit.eta_s !== undefined ? h("span", { class: "eta" }, ` · ${eta(unit.eta_s, unit.eta_basis)}`) : null,
        isStale(unit) ? h("span", { class: "flag flag-stale" }, _("stale")) : null),
      h("td", {}, h("button", { type: "button", class: "btn btn-small btn-primary", dataset: { assign: unit.callsign }, onclick: () => assign(call, unit) }, _("Assign")))))))
      : h("p", { class: "muted" }, fmt(_("No available unit within %(r)s."), { r: metres(radius) })),
    h("div", { class: "row" },
      h("button", { type: "button", class: "btn btn-small", onclick: loadCandidates }, _("Refresh")),
      h("button", { type: "button", class: "btn btn-small", onclick: () => { detail.radius = radius === 5000 ? 20000 : 5000; loadCandidates(); } },
        radius === 5000 ? fmt(_("Search within %(r)s"), { r: metres(20000) }) : fmt(_("Search within %(r)s"), { r: metres(5000) }))));
}
const candidatesSoon = debounce(loadCandidates, 300);

let timelineTicket = 0;

async function loadTimeline() {
  if (!detail) return;
  const id = detail.id;
  const mine = ++timelineTicket;
  let events;
  try { events = await api.timeline(id); } catch (error) { failed(error); return; }
  if (mine !== timelineTicket || !detail || detail.id !== id) return;
  fill(detail.timeline, ...events.slice().reverse().map((e) => h("li", { class: `ev ev-${e.type.replace(".", "-")}` },
    h("time", { datetime: e.at }, clock(e.at)),
    h("span", { class: "ev-type" }, e.type === "alert.raised" && e.data && e.data.kind ? ALERT[e.data.kind] || e.data.kind : EVENT[e.type] || e.type),
    // In the operator's language when the row has a code (texts.js); older rows as stored.
    e.summary ? h("span", { class: "ev-summary" }, window.DispatchTexts.render(e.summary_code, e.summary_params, e.summary)) : null,
    e.actor ? h("span", { class: "ev-actor" }, e.actor) : null)));
}
const timelineSoon = debounce(loadTimeline, 400);

// --- what a change in the state means for the open call ---------------------------------------

// The state was read again: the candidates and the timeline may have moved on.
export function detailReloaded() {
  if (detail) { loadCandidates(); loadTimeline(); }
}

export function detailCallsChanged(ids) {
  if (detail && ids.has(detail.id)) {
    invalidate("detail");
    timelineSoon();
    candidatesSoon();
  }
}

// A unit that became available (or stopped being) near the open call changes the candidates.
export function detailUnitChanged(event) {
  if (!detail) return;
  const call = state.calls.get(detail.id);
  if (call && call.location && event && event.data && event.data.location && haversine(call.location, event.data.location) <= detail.radius) candidatesSoon();
}
