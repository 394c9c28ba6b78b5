// Draws the state on the page. Text only (textContent): nothing from the server is parsed
// as HTML.

import { metresBetween } from "./geo.js";
import { _, PRIORITY, distanceText, durationText, fmt } from "./words.js";

const $ = (id) => document.getElementById(id);

export function show(screen) {
  for (const id of ["pair", "signed-out", "main"]) $(id).hidden = id !== screen;
}

export function conn(status, info = {}) {
  // The phone knows it has no network: nothing is "connecting" then, whatever a socket says.
  if (!navigator.onLine && status !== "live") status = "down";
  const text = {
    connecting: _("Connecting…"), live: _("Live"), down: _("No connection"), degraded: _("Live (slow)"),
  }[status] || status;
  $("conn").className = `conn conn-${status}`;
  $("conn-text").textContent = info.attempt && status !== "live" ? `${text} (${info.attempt})` : text;
  $("offline").hidden = status !== "down";
}

function navigateHref(call) {
  const { lat, lon } = call.location;
  const label = encodeURIComponent(call.address || call.reference);
  return `geo:${lat},${lon}?q=${lat},${lon}(${label})`;
}

const NEXT = {
  assigned: ["act-ack", "act-decline", "act-arrive"],
  acknowledged: ["act-arrive"],
  on_scene: ["act-clear", "act-transport"],
};

export function render(state, config) {
  const labels = config.statuses.labels;
  const unit = state.unit;
  $("callsign").textContent = unit ? unit.callsign : "112";
  $("unit-status").textContent = unit ? labels[unit.status] || unit.status : "";
  $("unit-status").dataset.status = unit ? unit.status : "";

  const a = state.assignment;
  const call = state.call && a && state.call.id === a.call ? state.call : null;
  $("assignment").hidden = !a;
  $("idle").hidden = Boolean(a);
  if (a) {
    $("a-new").hidden = !state.ringing;
    $("assignment").classList.toggle("ringing", Boolean(state.ringing));
    $("a-reference").textContent = a.call_reference;
    $("a-status").textContent = labels[a.status] || a.status;
    $("a-status").dataset.status = a.status;
    const priority = call ? call.priority : null;
    $("a-priority").textContent = priority ? PRIORITY[priority] || `P${priority}` : "";
    $("a-priority").className = `prio prio-${priority || "x"}`;
    $("a-type").textContent = call ? config.incidentTypes[call.incident_type] || call.incident_type : _("Loading…");
    const where = call && call.location ? `${call.location.lat.toFixed(5)}, ${call.location.lon.toFixed(5)}` : "";
    $("a-address").textContent = call ? call.address || where || _("No location") : "";
    const notes = call ? call.description : "";
    $("a-notes").hidden = !notes;
    $("a-notes").textContent = notes ? fmt(_("Caller: %(text)s"), { text: notes }) : "";
    const phone = call ? call.caller_phone : "";
    $("a-caller").hidden = !phone;
    $("a-caller").replaceChildren();
    if (phone) {
      const link = document.createElement("a");
      link.href = `tel:${phone.replace(/[^+\d]/g, "")}`;
      link.textContent = phone;
      $("a-caller").append(_("Caller's phone") + ": ", link);
    }
    const distance = call && call.location && state.fix ? metresBetween(state.fix, call.location) : a.route_m ?? a.distance_m;
    $("a-distance").textContent = distanceText(distance);
    $("a-eta").textContent = durationText(a.eta_s);
    const navigate = $("a-navigate");
    navigate.hidden = !(call && call.location);
    if (call && call.location) navigate.href = navigateHref(call);
    const allowed = new Set(NEXT[a.status] || []);
    for (const id of ["act-ack", "act-decline", "act-arrive", "act-clear", "act-transport"]) {
      $(id).hidden = !allowed.has(id);
      $(id).disabled = state.busy;
    }
    const waiting = state.pending.filter((p) => p.assignment === a.id).length;
    $("a-pending").hidden = !waiting;
    $("a-pending").textContent = fmt(_("Waiting for the network: %(n)s action(s) will be sent."), { n: waiting });
  }

  // The crew sets these itself; while it works an assignment its status follows the actions.
  const box = $("self-status");
  const working = Boolean(a);
  if (box.dataset.built !== "1") {
    box.replaceChildren(...config.selfStatuses.map((status) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "btn";
      b.dataset.status = status;
      b.textContent = labels[status] || status;
      return b;
    }));
    box.dataset.built = "1";
  }
  for (const b of box.querySelectorAll("button")) {
    b.classList.toggle("current", unit && unit.status === b.dataset.status);
    b.disabled = working || state.busy || (unit && unit.status === b.dataset.status);
  }

  $("gps").textContent = {
    ok: state.fix ? fmt(_("±%(m)s m, %(time)s"), {
      m: Math.round(state.fix.accuracy_m ?? 0), time: new Date(state.fix.recorded_at).toLocaleTimeString(),
    }) : _("waiting for the first fix"),
    denied: _("not allowed: allow location for this site in the phone's settings"),
    unavailable: _("no signal"),
    unsupported: _("this browser has no location"),
  }[state.gps] || "–";
  $("queued").dataset.fixes = state.queuedFixes;
  $("queued").dataset.actions = state.pending.length;
  $("queued").textContent = fmt(_("%(fixes)s position(s), %(actions)s action(s)"),
    { fixes: state.queuedFixes, actions: state.pending.length });
  $("alerts-row").hidden = !("Notification" in window) || Notification.permission !== "default";
}
