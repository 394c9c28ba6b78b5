// The operator console: renders state.js onto the page and turns the operator's input
// into api.js calls. Plain DOM, no framework, no build step. Strings go through Django's
// JavaScript catalogue (window.gettext from /jsi18n/), so the page speaks ru, kk or en.

import { Api, ApiError, Feed } from "./api.js";
import { ACTIVE_ASSIGNMENT, ConsoleState, OPEN_CALL } from "./state.js";

const _ = window.gettext || ((s) => s);
const fmt = (text, values) => (window.interpolate ? window.interpolate(text, values, true) : text);
const cfg = JSON.parse(document.getElementById("console-config").textContent);
const lang = document.documentElement.lang || "ru";

// --- words -------------------------------------------------------------------------------------

const STATUS = {
  pending: _("Pending"), dispatched: _("Dispatched"), on_scene: _("On scene"), closed: _("Closed"),
  cancelled: _("Cancelled"), merged: _("Merged"), out_of_service: _("Out of service"), available: _("Available"),
  en_route: _("En route"), transporting: _("Transporting"), unreachable: _("Unreachable"), assigned: _("Assigned"),
  acknowledged: _("Acknowledged"), cleared: _("Cleared"), declined: _("Declined"), timed_out: _("Timed out"),
};
const SERVICE = { police: _("Police"), medical: _("Medical"), fire: _("Fire"), utility: _("Utility") };
const SERVICE_ORDER = ["police", "medical", "fire", "utility"];
const ALERT = {
  no_unit_available: _("No unit available"), ack_timeout: _("Not acknowledged"),
  possible_duplicate: _("Possible duplicate"), no_location: _("No location"), hold: _("On hold"),
};
const UNMET_REASON = {
  no_location: _("no location"), on_hold: _("on hold"), no_unit_of_service: _("no such units"),
  no_unit_with_capability: _("no unit with this capability"), all_busy: _("all busy"),
  all_stale: _("positions out of date"), all_refused: _("all declined or timed out"),
};
const DISPOSITIONS = [
  ["resolved", _("Resolved")], ["transported", _("Transported")], ["false_alarm", _("False alarm")],
  ["hoax", _("Hoax")], ["accidental", _("Accidental call")], ["caller_advised", _("Caller advised")],
  ["referred", _("Referred to another service")], ["gone_on_arrival", _("Gone on arrival")],
  ["duplicate", _("Duplicate")], ["cancelled", _("Cancelled")],
];
const CHANNEL = { voice: _("Voice"), sms: _("SMS"), aml: "AML", app: _("App"), ecall: "eCall" };
const SOURCE = { aml: "AML", caller_app: _("caller's app"), address: _("address"), operator: _("operator") };
const PLACE_KIND = { address: _("Address"), street: _("Street"), intersection: _("Intersection"), place: _("Place") };
const EVENT = {
  "call.created": _("Call created"), "call.updated": _("Call updated"), "assignment.created": _("Unit assigned"),
  "assignment.updated": _("Assignment changed"), "unit.updated": _("Unit changed"), "alert.raised": _("Alert"),
};
// How precise a geocoder answer is, by kind (the server uses the same figures).
const KIND_ACCURACY = { address: 30, intersection: 50, place: 100, street: 500 };

// --- small helpers -----------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}
const $ = (id) => document.getElementById(id);
// replaceChildren() would print null as "null": drop the empty slots that conditional children leave.
const fill = (el, ...children) => el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));

function typeName(code) {
  const t = types.get(code);
  if (!t) return code || "";
  return t[`name_${lang}`] || t.name_ru || t.name_en || code;
}

function elapsed(iso) {
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return hh ? `${hh}:${two(mm)}:${two(ss)}` : `${two(mm)}:${two(ss)}`;
}

function age(iso) {
  if (!iso) return "—";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return fmt(_("%(n)s s"), { n: s });
  if (s < 3600) return fmt(_("%(n)s min"), { n: Math.floor(s / 60) });
  return fmt(_("%(n)s h"), { n: Math.floor(s / 3600) });
}

const timeFormat = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const clock = (iso) => (iso ? timeFormat.format(new Date(iso)) : "—");

function metres(m) {
  if (m === null || m === undefined) return "—";
  const km = (m / 1000).toLocaleString(lang, { maximumFractionDigits: 1 });
  return m < 1000 ? fmt(_("%(n)s m"), { n: Math.round(m) }) : fmt(_("%(n)s km"), { n: km });
}

function haversine(a, b) {
  const rad = Math.PI / 180, r = 6371008.8;
  const dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
  const x = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(x));
}

const isStale = (unit) => !unit.location || !unit.location.recorded_at
  || (Date.now() - Date.parse(unit.location.recorded_at)) / 1000 > cfg.staleAfterS;

function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

function toast(text, kind = "info") {
  const el = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  $("toasts").append(el);
  setTimeout(() => el.remove(), kind === "error" ? 8000 : 4000);
}

function failed(error) {
  toast(error instanceof ApiError ? error.message : `${_("Request failed")}: ${error.message || error}`, "error");
}

// A button that asks for a second press before doing something that cannot be undone.
// The armed state lives by key, outside the button, so a live redraw between the two
// presses does not disarm it.
const armed = new Map();  // key → timer

function confirmButton(key, label, confirmLabel, action, attrs = {}) {
  const button = h("button", { type: "button", class: "btn btn-danger", ...attrs }, armed.has(key) ? confirmLabel : label);
  button.classList.toggle("armed", armed.has(key));
  const disarm = () => { clearTimeout(armed.get(key)); armed.delete(key); button.textContent = label; button.classList.remove("armed"); };
  button.addEventListener("click", async () => {
    if (!armed.has(key)) {
      armed.set(key, setTimeout(disarm, 4000));
      button.textContent = confirmLabel;
      button.classList.add("armed");
      return;
    }
    disarm();
    button.disabled = true;
    try { await action(); } finally { button.disabled = false; }
  });
  return button;
}

// --- combobox: a text input with a listbox (incident types, geocoder answers) ------------------

let comboSeq = 0;

function combo({ input, list, search, render, pick, autoActive = true, delay = 0 }) {
  let items = [];
  let active = -1;
  let ticket = 0;
  const id = `combo${++comboSeq}`;

  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  };
  const mark = () => {
    [...list.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
    if (active >= 0 && list.children[active]) {
      input.setAttribute("aria-activedescendant", list.children[active].id);
      list.children[active].scrollIntoView({ block: "nearest" });
    } else input.removeAttribute("aria-activedescendant");
  };
  const show = (found) => {
    items = found;
    fill(list, ...items.map((item, i) => {
      const li = h("li", { role: "option", id: `${id}-${i}` }, render(item));
      li.addEventListener("mousedown", (e) => { e.preventDefault(); choose(i); });
      return li;
    }));
    active = autoActive && items.length ? 0 : -1;
    list.hidden = items.length === 0;
    input.setAttribute("aria-expanded", String(items.length > 0));
    mark();
  };
  const choose = (i) => {
    const item = items[i];
    typed = false;
    close();
    if (item !== undefined) pick(item);
  };
  const run = async () => {
    const mine = ++ticket;
    const q = input.value.trim();
    let found = [];
    try { found = await search(q); } catch (error) { if (error instanceof ApiError && error.status >= 500) failed(error); }
    if (mine === ticket && document.activeElement === input) show(found || []);
  };
  const later = delay ? debounce(run, delay) : run;

  let typed = false;
  input.addEventListener("input", () => { typed = true; later(); });
  input.addEventListener("focus", () => { if (input.value.trim() || !delay) later(); });
  input.addEventListener("blur", () => setTimeout(close, 100));
  input.addEventListener("keydown", (e) => {
    if (list.hidden) {
      if (e.key === "ArrowDown" && !e.altKey) { e.preventDefault(); run(); }
      return;
    }
    if (e.key === "ArrowDown") { e.preventDefault(); active = Math.min(items.length - 1, active + 1); mark(); }
    else if (e.key === "ArrowUp") { e.preventDefault(); active = Math.max(-1, active - 1); mark(); }
    else if (e.key === "Enter" && !e.ctrlKey && !e.metaKey && active >= 0) { e.preventDefault(); e.stopPropagation(); choose(active); }
    else if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); close(); }
    // Tab after typing takes the highlighted entry, as Enter does; Tab through an untouched field does not.
    else if (e.key === "Tab" && active >= 0 && autoActive && typed) choose(active);
  });
  return { close, refresh: run };
}

const typeSearch = async (q) => {
  const needle = q.toLowerCase();
  const all = [...types.values()];
  if (!needle) return all.sort((a, b) => a.priority - b.priority || typeName(a.code).localeCompare(typeName(b.code), lang));
  const scored = [];
  for (const t of all) {
    const own = typeName(t.code).toLowerCase();
    const others = `${t.name_ru} ${t.name_kk} ${t.name_en} ${t.code}`.toLowerCase();
    let score = -1;
    if (own.startsWith(needle)) score = 0;
    else if (own.split(/[\s,()-]+/).some((w) => w.startsWith(needle))) score = 1;
    else if (own.includes(needle)) score = 2;
    else if (others.includes(needle)) score = 3;
    if (score >= 0) scored.push([score, t]);
  }
  return scored.sort((a, b) => a[0] - b[0] || a[1].priority - b[1].priority).map(([, t]) => t);
};

const renderType = (t) => [h("span", { class: `prio p${t.priority}` }, `P${t.priority}`), " ", typeName(t.code)];

const geocodeSearch = async (q) => (q.length < 2 ? [] : (await api.geocode(q)).results);

const renderPlace = (r) => [h("span", { class: `kind kind-${r.kind}` }, PLACE_KIND[r.kind] || r.kind), " ", r.label];

// --- boot ----------------------------------------------------------------------------------------

const api = new Api({
  csrfToken: cfg.csrfToken,
  onUnauthorized: () => { window.location.href = `/accounts/login/?next=${encodeURIComponent(window.location.pathname)}`; },
});
const state = new ConsoleState();
const types = new Map();
let selectedId = null;
let tab = "call";
let soundOn = localStorage.getItem("console.sound") !== "off";

window.__console = { state, api };  // for the browser tests and for a curious operator's devtools

// --- map -----------------------------------------------------------------------------------------

const map = L.map("map", { zoomControl: true, preferCanvas: false }).setView(cfg.centre, 12);
if (cfg.tiles && cfg.tiles.url) {
  const tiles = L.tileLayer(cfg.tiles.url, { maxZoom: 19, attribution: cfg.tiles.attribution, crossOrigin: false });
  let loaded = 0;
  let errors = 0;
  tiles.on("tileload", () => { loaded += 1; $("map").classList.remove("no-tiles"); });
  tiles.on("tileerror", () => { errors += 1; if (!loaded && errors >= 4) $("map").classList.add("no-tiles"); });
  tiles.addTo(map);
} else {
  $("map").classList.add("no-tiles");
}
L.control.scale({ imperial: false }).addTo(map);
map.attributionControl.setPrefix("Leaflet");

const callLayer = L.layerGroup().addTo(map);
const unitLayer = L.layerGroup().addTo(map);
const linkLayer = L.layerGroup().addTo(map);
const draftLayer = L.layerGroup().addTo(map);
const callMarkers = new Map();  // id → {marker, circle, html}
const unitMarkers = new Map();  // id → {marker, html}

function callIconHtml(call) {
  const flags = state.callFlags(call);
  const tail = `#${(call.reference || "").split("-").pop().replace(/^0+/, "")}`;
  const cls = ["cm", `p${call.priority}`, call.id === selectedId ? "selected" : "", flags.length ? "flagged" : ""].join(" ");
  return `<div class="${cls}"><b>${call.priority}</b><span>${escapeHtml(`${tail} · ${typeName(call.incident_type)}`)}</span></div>`;
}

function unitIconHtml(unit) {
  const cls = ["um", `svc-${unit.service}`, `st-${unit.status}`, isStale(unit) ? "stale" : ""].join(" ");
  return `<div class="${cls}"><i></i>${escapeHtml(unit.callsign)}</div>`;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function drawCall(call) {
  let entry = callMarkers.get(call.id);
  const show = call.location && (OPEN_CALL.has(call.status) || call.id === selectedId);
  if (!show) {
    if (entry) { callLayer.removeLayer(entry.marker); callLayer.removeLayer(entry.circle); callMarkers.delete(call.id); }
    return;
  }
  const at = [call.location.lat, call.location.lon];
  const html = callIconHtml(call);
  const radius = call.location.accuracy_m || 0;
  if (!entry) {
    const marker = L.marker(at, { icon: L.divIcon({ className: "call-icon", html, iconSize: null }), zIndexOffset: 1000,
      keyboard: false, title: call.reference });
    marker.on("click", () => select(call.id));
    const circle = L.circle(at, { radius, className: `uncertainty p${call.priority}`, interactive: false });
    callLayer.addLayer(circle).addLayer(marker);
    entry = { marker, circle, html };
    callMarkers.set(call.id, entry);
  } else {
    entry.marker.setLatLng(at);
    entry.circle.setLatLng(at).setRadius(radius);
    if (entry.html !== html) { entry.marker.setIcon(L.divIcon({ className: "call-icon", html, iconSize: null })); entry.html = html; }
  }
  entry.marker.setZIndexOffset(call.id === selectedId ? 2000 : 1000 - call.priority * 100);
}

function drawUnit(unit) {
  let entry = unitMarkers.get(unit.id);
  if (!unit.location) {
    if (entry) { unitLayer.removeLayer(entry.marker); unitMarkers.delete(unit.id); }
    return;
  }
  const at = [unit.location.lat, unit.location.lon];
  const html = unitIconHtml(unit);
  if (!entry) {
    const marker = L.marker(at, { icon: L.divIcon({ className: "unit-icon", html, iconSize: null }), keyboard: false,
      title: unit.callsign });
    marker.bindPopup(() => unitPopup(unit.id));
    unitLayer.addLayer(marker);
    unitMarkers.set(unit.id, { marker, html });
  } else {
    entry.marker.setLatLng(at);
    if (entry.html !== html) { entry.marker.setIcon(L.divIcon({ className: "unit-icon", html, iconSize: null })); entry.html = html; }
  }
}

function unitPopup(id) {
  const unit = state.units.get(id);
  if (!unit) return "";
  const call = selectedId ? state.calls.get(selectedId) : null;
  const body = h("div", { class: "popup" },
    h("strong", {}, unit.callsign), " ", h("span", { class: `svc svc-${unit.service}` }, SERVICE[unit.service] || unit.service),
    h("div", {}, STATUS[unit.status] || unit.status, " · ", age(unit.location && unit.location.recorded_at)),
    unit.capabilities.length ? h("div", { class: "muted" }, unit.capabilities.join(", ")) : null,
    unit.active_assignment ? h("div", {}, _("Call"), ": ", unit.active_assignment.call_reference) : null);
  if (call && OPEN_CALL.has(call.status) && unit.status === "available") {
    body.append(h("button", { type: "button", class: "btn btn-primary", onclick: () => { map.closePopup(); assign(call, unit); } },
      fmt(_("Assign to %(ref)s"), { ref: call.reference })));
  }
  return body;
}

function drawLinks() {
  linkLayer.clearLayers();
  const call = selectedId && state.calls.get(selectedId);
  if (!call || !call.location) return;
  for (const a of state.activeAssignments(call)) {
    const unit = state.units.get(a.unit.id);
    if (!unit || !unit.location) continue;
    L.polyline([[unit.location.lat, unit.location.lon], [call.location.lat, call.location.lon]],
      { className: `link svc-${unit.service}`, interactive: false }).addTo(linkLayer);
  }
}

// Picking a point on the map: for the new call by default, or to move the selected call.
let pickTarget = null;  // null = new call; or {callId}

function setPick(target) {
  pickTarget = target;
  const banner = $("pick-banner");
  $("map").classList.toggle("picking", !!target);
  if (target) {
    const call = state.calls.get(target.callId);
    fill(banner, fmt(_("Click the map to move %(ref)s. Esc to stop."), { ref: call ? call.reference : "" }));
    banner.hidden = false;
  } else banner.hidden = true;
}

map.on("click", async (e) => {
  const lat = e.latlng.lat, lon = e.latlng.lng;
  // What a click can tell: about ten screen pixels at this zoom, and never better than 10 m.
  const accuracy = Math.max(10, Math.round(10 * 40075016 * Math.cos(lat * Math.PI / 180) / 2 ** (map.getZoom() + 8)));
  if (pickTarget) {
    const callId = pickTarget.callId;
    setPick(null);
    try {
      await api.updateCall(callId, { location: { lat, lon, accuracy_m: accuracy, source: "operator" } });
      toast(_("Location changed"));
    } catch (error) { failed(error); }
    return;
  }
  draft.location = { lat, lon, accuracy_m: accuracy, source: "map", label: null };
  $("nc-address").value = "";
  showDraftLocation();
  try {
    const near = await api.reverseGeocode(lat, lon);
    if (draft.location && draft.location.lat === lat && near && near.label) {
      draft.location.label = near.label;
      showDraftLocation();
    }
  } catch { /* the point is enough */ }
});

// --- new call form ---------------------------------------------------------------------------------

const draft = { type: null, priorityTouched: false, location: null };

function showDraftLocation() {
  draftLayer.clearLayers();
  const box = $("nc-location");
  const loc = draft.location;
  if (!loc) { box.hidden = true; fill(box); return; }
  const where = loc.source === "map" ? _("Point on the map") : (PLACE_KIND[loc.kind] || "");
  fill(box,
    h("span", { class: "pin", "aria-hidden": "true" }, "◎"), " ",
    h("span", {}, where, loc.label ? `: ${loc.label}` : "", ` (${loc.lat.toFixed(5)}, ${loc.lon.toFixed(5)}, ±${metres(loc.accuracy_m)})`),
    h("button", { type: "button", class: "btn btn-small", title: _("Remove location"), onclick: () => { draft.location = null; showDraftLocation(); } }, "×"));
  box.hidden = false;
  const marker = L.marker([loc.lat, loc.lon], { draggable: true, icon: L.divIcon({ className: "draft-icon", html: '<div class="dm"></div>', iconSize: null }), keyboard: false });
  marker.on("dragend", () => {
    const p = marker.getLatLng();
    draft.location = { ...draft.location, lat: p.lat, lon: p.lng, source: "map", label: null };
    showDraftLocation();
  });
  draftLayer.addLayer(L.circle([loc.lat, loc.lon], { radius: loc.accuracy_m || 0, className: "uncertainty draft", interactive: false }));
  draftLayer.addLayer(marker);
  if (!map.getBounds().pad(-0.1).contains([loc.lat, loc.lon])) map.panTo([loc.lat, loc.lon]);
}

function setType(t) {
  draft.type = t;
  $("nc-type").value = t ? typeName(t.code) : "";
  if (t && !draft.priorityTouched) $("nc-priority").value = String(t.priority);
}

combo({
  input: $("nc-type"), list: $("nc-type-list"), search: typeSearch, render: renderType, pick: setType,
});
$("nc-type").addEventListener("input", () => { draft.type = null; });
$("nc-priority").addEventListener("change", () => { draft.priorityTouched = true; });

combo({
  input: $("nc-address"), list: $("nc-address-list"), search: geocodeSearch, render: renderPlace, autoActive: false, delay: 180,
  pick: (r) => {
    $("nc-address").value = r.label;
    draft.location = { lat: r.lat, lon: r.lon, accuracy_m: KIND_ACCURACY[r.kind] || 100, source: "address", kind: r.kind, label: r.label };
    showDraftLocation();
    map.setView([r.lat, r.lon], Math.max(map.getZoom(), 15));
  },
});
$("nc-address").addEventListener("input", () => {
  // Typing again replaces a picked answer; a point from the map stays until removed.
  if (draft.location && draft.location.source === "address" && $("nc-address").value !== draft.location.label) {
    draft.location = null;
    showDraftLocation();
  }
});

function resetForm() {
  $("new-call").reset();
  draft.type = null;
  draft.priorityTouched = false;
  draft.location = null;
  showDraftLocation();
  $("nc-error").textContent = "";
}

$("new-call").addEventListener("reset", () => setTimeout(resetForm));
$("new-call").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submitCall(); }
});
$("new-call").addEventListener("submit", (e) => { e.preventDefault(); submitCall(); });

let submitting = false;

async function submitCall() {
  if (submitting) return;
  const error = $("nc-error");
  error.textContent = "";
  if (!draft.type) {
    // The operator typed a type but did not pick: take it only if it is unambiguous.
    const matches = await typeSearch($("nc-type").value.trim());
    if ($("nc-type").value.trim() && matches.length === 1) setType(matches[0]);
  }
  if (!draft.type) {
    error.textContent = _("Choose the incident type.");
    $("nc-type").focus();
    return;
  }
  const body = {
    incident_type: draft.type.code,
    priority: Number($("nc-priority").value),
    caller_phone: $("nc-phone").value.trim(),
    caller_name: $("nc-name").value.trim(),
    description: $("nc-description").value.trim(),
    channel: "voice",
  };
  const address = $("nc-address").value.trim();
  const loc = draft.location;
  if (loc && loc.source === "map") body.location = { lat: loc.lat, lon: loc.lon, accuracy_m: loc.accuracy_m, source: "operator" };
  else if (address) body.address = address;
  submitting = true;
  $("nc-submit").disabled = true;
  try {
    let call = await api.createCall(body);
    // The server geocodes the text again; if it lands elsewhere than the answer the
    // operator picked, the operator's pick wins.
    if (loc && loc.source === "address" && (!call.location || haversine(call.location, loc) > 75)) {
      call = await api.updateCall(call.id, { location: { lat: loc.lat, lon: loc.lon, accuracy_m: loc.accuracy_m, source: "address" } });
    }
    state.noteCall(call);
    toast(fmt(_("%(ref)s created"), { ref: call.reference }), "ok");
    resetForm();
    select(call.id);
    $("nc-phone").focus();
  } catch (err) {
    error.textContent = err instanceof ApiError ? err.message : String(err);
  } finally {
    submitting = false;
    $("nc-submit").disabled = false;
  }
}

// --- queue -------------------------------------------------------------------------------------------

function unmetText(need) {
  const what = `${SERVICE[need.service] || need.service}${need.capability ? ` (${need.capability.toUpperCase()})` : ""}${need.count > 1 ? ` ×${need.count}` : ""}`;
  return need.reason ? `${what}: ${UNMET_REASON[need.reason] || need.reason}` : what;
}

function callMatches(call, needle) {
  if (!needle) return true;
  const hay = [call.reference, call.caller_phone, call.caller_name, call.address, call.description, typeName(call.incident_type),
    ...(call.assignments || []).map((a) => a.unit.callsign)].join(" ").toLowerCase();
  return needle.split(/\s+/).every((w) => hay.includes(w));
}

function renderQueue() {
  const needle = $("queue-filter").value.trim().toLowerCase();
  const all = state.queue();
  const calls = all.filter((c) => callMatches(c, needle));
  const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("#queue-list [data-id]");
  const focusId = focused ? Number(focused.dataset.id) : null;
  $("queue-count").textContent = needle ? `${calls.length}/${all.length}` : String(all.length);
  $("queue-empty").hidden = calls.length > 0;
  fill($("queue-list"), ...calls.map((call) => {
    const flags = state.callFlags(call);
    const units = state.activeAssignments(call).map((a) => h("span", { class: `unit-chip svc-${a.unit.service} as-${a.status}`, title: STATUS[a.status] || a.status }, a.unit.callsign));
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
      h("span", { class: `status st-${call.status}` }, STATUS[call.status] || call.status),
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

$("queue-filter").addEventListener("input", () => invalidate("queue"));
$("queue-filter").addEventListener("keydown", (e) => {
  if (e.key === "Enter") { const first = $("queue-list").querySelector("[data-id]"); if (first) select(Number(first.dataset.id)); }
  if (e.key === "ArrowDown") { e.preventDefault(); const first = $("queue-list").querySelector("[data-id]"); if (first) first.focus(); }
});

// --- alerts ----------------------------------------------------------------------------------------

function renderAlerts() {
  const alerts = state.activeAlerts();
  const box = $("alerts");
  box.hidden = alerts.length === 0;
  if (!alerts.length) { fill(box); return; }
  const shown = alerts.slice(0, 4);
  fill(box,
    ...shown.map((a) => {
      const call = state.calls.get(a.call);
      const what = call ? `${call.reference} · ${typeName(call.incident_type)}` : (a.data.reference || "");
      const extra = a.kind === "ack_timeout" && a.data.callsign ? ` · ${a.data.callsign}` : "";
      return h("div", { class: `alert alert-${a.kind}`, dataset: { kind: a.kind, call: a.call } },
        h("strong", {}, ALERT[a.kind] || a.kind), h("span", {}, ` ${what}${extra}`),
        h("span", { class: "age", dataset: { since: a.at } }, elapsed(a.at)),
        h("button", { type: "button", class: "btn btn-small", onclick: () => select(a.call) }, _("Open")),
        h("button", { type: "button", class: "btn btn-small", title: _("Dismiss"), "aria-label": _("Dismiss"),
          onclick: () => state.dismissAlerts((x) => x.kind === a.kind && x.call === a.call) }, "×"));
    }),
    alerts.length > shown.length ? h("span", { class: "more" }, fmt(_("+%(n)s more"), { n: alerts.length - shown.length })) : null,
    h("button", { type: "button", class: "btn btn-small dismiss-all", onclick: () => state.dismissAlerts() }, _("Dismiss all"), " ", h("kbd", {}, "A")));
}

// --- sound -------------------------------------------------------------------------------------------

let audio = null;
let lastBeep = 0;

function unlockAudio() {
  if (!audio && window.AudioContext) audio = new AudioContext();
  if (audio && audio.state === "suspended") audio.resume();
}
document.addEventListener("pointerdown", unlockAudio, { once: true });
document.addEventListener("keydown", unlockAudio, { once: true });

function beep(urgent) {
  if (!soundOn || !audio || Date.now() - lastBeep < 1500) return;
  lastBeep = Date.now();
  const pulses = urgent ? 3 : 1;
  for (let i = 0; i < pulses; i += 1) {
    const start = audio.currentTime + i * 0.22;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = urgent ? 988 : 740;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.16);
    osc.connect(gain).connect(audio.destination);
    osc.start(start);
    osc.stop(start + 0.18);
  }
}

function renderSound() {
  $("sound-toggle").setAttribute("aria-pressed", String(soundOn));
  $("sound-toggle").classList.toggle("muted", !soundOn);
}

function toggleSound() {
  soundOn = !soundOn;
  localStorage.setItem("console.sound", soundOn ? "on" : "off");
  unlockAudio();
  renderSound();
  if (soundOn) { lastBeep = 0; beep(false); }
}
$("sound-toggle").addEventListener("click", toggleSound);

// --- units board ---------------------------------------------------------------------------------------

const BUSY = new Set(["dispatched", "en_route", "on_scene", "transporting"]);

function callsignCompare(a, b) {
  return a.localeCompare(b, undefined, { numeric: true });
}

function renderUnits() {
  const needle = $("units-filter").value.trim().toLowerCase();
  const service = $("units-service").value;
  const status = $("units-status").value;
  const all = [...state.units.values()];
  const counts = { available: 0, busy: 0, out_of_service: 0, unreachable: 0, stale: 0 };
  for (const u of all) {
    if (BUSY.has(u.status)) counts.busy += 1; else if (counts[u.status] !== undefined) counts[u.status] += 1;
    if (isStale(u) && u.status !== "out_of_service") counts.stale += 1;
  }
  fill($("units-summary"),
    h("span", { class: "st-available" }, `${STATUS.available} ${counts.available}`),
    h("span", { class: "st-busy" }, `${_("Busy")} ${counts.busy}`),
    h("span", { class: "st-out_of_service" }, `${STATUS.out_of_service} ${counts.out_of_service}`),
    h("span", { class: "st-unreachable" }, `${STATUS.unreachable} ${counts.unreachable}`),
    h("span", { class: "stale" }, `${_("Stale position")} ${counts.stale}`));
  const units = all
    .filter((u) => !service || u.service === service)
    .filter((u) => !status || (status === "busy" ? BUSY.has(u.status) : u.status === status))
    .filter((u) => !needle || `${u.callsign} ${u.active_assignment ? u.active_assignment.call_reference : ""} ${u.capabilities.join(" ")}`.toLowerCase().includes(needle))
    .sort((a, b) => SERVICE_ORDER.indexOf(a.service) - SERVICE_ORDER.indexOf(b.service) || callsignCompare(a.callsign, b.callsign));
  fill($("units-body"), ...units.map((u) => {
    const stale = isStale(u);
    const recorded = u.location && u.location.recorded_at;
    return h("tr", { dataset: { unit: u.id }, class: stale ? "stale" : "" },
      h("td", {}, h("button", { type: "button", class: `unit-chip svc-${u.service}`, title: SERVICE[u.service] || u.service,
        onclick: () => focusUnit(u.id) }, u.callsign),
      u.capabilities.length ? h("span", { class: "caps" }, u.capabilities.join(" ")) : null),
      h("td", {}, h("span", { class: `status st-${u.status}` }, STATUS[u.status] || u.status)),
      h("td", { class: stale ? "pos stale" : "pos", title: recorded ? clock(recorded) : "" },
        recorded ? h("span", { dataset: { age: recorded } }, age(recorded)) : "—",
        stale ? h("span", { class: "flag flag-stale" }, _("stale")) : null),
      h("td", {}, u.active_assignment
        ? [h("button", { type: "button", class: "link-button", onclick: () => openCall(u.active_assignment.call) },
          u.active_assignment.call_reference),
        h("div", { class: `status st-${u.active_assignment.status}` }, STATUS[u.active_assignment.status] || u.active_assignment.status)]
        : ""));
  }));
}

["units-filter", "units-service", "units-status"].forEach((id) => $(id).addEventListener("input", () => invalidate("units")));

function focusUnit(id) {
  const unit = state.units.get(id);
  const entry = unitMarkers.get(id);
  if (!unit || !entry) return;
  map.setView(entry.marker.getLatLng(), Math.max(map.getZoom(), 15));
  entry.marker.openPopup();
}

// --- tabs ------------------------------------------------------------------------------------------------

function showTab(name) {
  tab = name;
  $("tab-call").setAttribute("aria-selected", String(name === "call"));
  $("tab-units").setAttribute("aria-selected", String(name === "units"));
  $("call-detail").hidden = name !== "call";
  $("units-board").hidden = name !== "units";
  if (name === "units") renderUnits();
}
$("tab-call").addEventListener("click", () => showTab("call"));
$("tab-units").addEventListener("click", () => showTab("units"));

// --- call detail -----------------------------------------------------------------------------------------

let detail = null;  // the DOM parts of the open call: {id, live, assignments, candidates, actions, timeline}

async function openCall(id) {
  if (!state.calls.has(id)) {
    try { state.noteCall(await api.call(id), { pin: true }); } catch (error) { failed(error); return; }
  }
  select(id);
}

function select(id, { focusDetail = false } = {}) {
  const previous = selectedId;
  if (previous && previous !== id) state.unpin(previous);
  selectedId = id;
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

function section(title, ...children) {
  return h("section", { class: "d-section" }, h("h3", {}, title), ...children);
}

function buildDetail() {
  const root = $("call-detail");
  const call = selectedId && state.calls.get(selectedId);
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

function renderDetail() {
  if (!detail) return;
  const call = state.calls.get(detail.id);
  if (!call) { buildDetail(); return; }
  const open = OPEN_CALL.has(call.status);
  const flags = state.callFlags(call);
  const loc = call.location;
  const row = (label, ...value) => [h("dt", {}, label), h("dd", {}, ...value)];
  fill(detail.live,
    h("div", { class: "d-head" },
      h("span", { class: `prio big p${call.priority}` }, `P${call.priority}`),
      h("div", { class: "d-title" },
        h("h2", {}, call.reference, " ", h("span", { class: `status st-${call.status}` }, STATUS[call.status] || call.status)),
        h("div", { class: "d-type" }, typeName(call.incident_type))),
      h("span", { class: "age big", dataset: { since: call.received_at }, title: _("Time since received") }, elapsed(call.received_at))),
    flags.length ? h("div", { class: "d-flags" }, flags.map((f) => h("span", { class: `flag flag-${f}` }, ALERT[f] || f))) : null,
    call.hold_reason ? h("div", { class: "hold" },
      h("strong", {}, _("Held:"), " "), call.hold_reason === "possible_duplicate" ? _("possible duplicate of") : call.hold_reason, " ",
      (call.possible_duplicates || []).map((d) => h("button", { type: "button", class: "link-button", onclick: () => openCall(d) }, refOf(d))), " ",
      open ? h("button", { type: "button", class: "btn btn-primary btn-small", id: "d-release", onclick: () => act(api.release(call.id), _("Released for dispatch")) }, _("Release and dispatch")) : null) : null,
    h("dl", { class: "d-info" },
      row(_("Phone"), call.caller_phone || "—", call.caller_name ? ` · ${call.caller_name}` : ""),
      row(_("Channel"), CHANNEL[call.channel] || call.channel),
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
      h("tbody", {}, list.map((a) => h("tr", { class: ACTIVE_ASSIGNMENT.has(a.status) ? "active" : "ended", dataset: { assignment: a.id } },
        h("td", {}, h("span", { class: `unit-chip svc-${a.unit.service}` }, a.unit.callsign)),
        h("td", {}, h("span", { class: `status st-${a.status}` }, STATUS[a.status] || a.status)),
        h("td", {}, metres(a.distance_m)),
        h("td", {}, clock(a.assigned_at)),
        h("td", {}, ACTIVE_ASSIGNMENT.has(a.status) && open
          ? confirmButton(`assignment:${a.id}`, _("Cancel"), _("Cancel? Press again"), () => act(api.cancelAssignment(a.id, "cancelled by operator"), fmt(_("%(unit)s taken off the call"), { unit: a.unit.callsign })), { class: "btn btn-small btn-danger" })
          : "")))))
    : h("p", { class: "muted" }, _("No unit assigned yet.")));
  detail.actions.note.hidden = !open;
  detail.actions.more.hidden = !open;
}

const refOf = (id) => { const c = state.calls.get(id); return c ? c.reference : `#${id}`; };
const dispositionLabel = (code) => (DISPOSITIONS.find(([c]) => c === code) || [code, code])[1];

async function act(promise, message) {
  try {
    const call = await promise;
    if (call && call.id && call.reference) state.noteCall(call);
    if (message) toast(message, "ok");
    return call;
  } catch (error) {
    failed(error);
    return null;
  }
}

async function assign(call, unit) {
  await act(api.assign(call.id, unit.id), fmt(_("%(unit)s assigned to %(ref)s"), { unit: unit.callsign, ref: call.reference }));
}

let candidateTicket = 0;

async function loadCandidates() {
  if (!detail) return;
  const call = state.calls.get(detail.id);
  const box = detail.candidates;
  if (!call || !OPEN_CALL.has(call.status)) { fill(box, h("p", { class: "muted" }, "—")); return; }
  if (!call.location) { fill(box, h("p", { class: "muted" }, _("Set the call's location to see the nearest units."))); return; }
  const mine = ++candidateTicket;
  const radius = detail.radius;
  let units;
  try { units = (await api.nearUnits(call.location.lat, call.location.lon, radius)).results; } catch (error) { failed(error); return; }
  if (mine !== candidateTicket || !detail || detail.id !== call.id) return;
  const needed = new Set((call.unmet_needs || []).map((n) => n.service));
  const stillFree = (u) => !state.units.has(u.id) || state.units.get(u.id).status === "available";
  const ranked = units.filter((u) => u.location && stillFree(u)).map((u) => ({ unit: u, distance: haversine(call.location, u.location) }))
    .sort((a, b) => a.distance - b.distance).slice(0, 10);
  fill(box,
    ranked.length ? h("table", { class: "candidates" }, h("tbody", {}, ranked.map(({ unit, distance }) => h("tr", { dataset: { unit: unit.id } },
      h("td", {}, h("span", { class: `unit-chip svc-${unit.service}` }, unit.callsign)),
      h("td", {}, SERVICE[unit.service] || unit.service, unit.capabilities.length ? h("span", { class: "caps" }, unit.capabilities.join(" ")) : null,
        needed.has(unit.service) ? h("span", { class: "flag flag-needed" }, _("needed")) : null),
      h("td", {}, metres(distance), isStale(unit) ? h("span", { class: "flag flag-stale" }, _("stale")) : null),
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
    e.summary ? h("span", { class: "ev-summary" }, e.summary) : null,
    e.actor ? h("span", { class: "ev-actor" }, e.actor) : null)));
}
const timelineSoon = debounce(loadTimeline, 400);

function buildActions(call) {
  const id = call.id;
  // Change type, priority, description.
  const typeInput = h("input", { type: "text", role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false", id: "d-type", value: typeName(call.incident_type), "aria-label": _("Incident type") });
  const typeList = h("ul", { class: "dropdown", role: "listbox", hidden: true });
  let newType = null;
  const prio = h("select", { id: "d-priority", "aria-label": _("Priority") }, [1, 2, 3, 4].map((p) => h("option", { value: p, selected: p === call.priority }, `P${p}`)));
  let prioTouched = false;
  prio.addEventListener("change", () => { prioTouched = true; });
  const edit = h("form", { class: "d-form", id: "d-edit" },
    h("div", { class: "row" },
      h("div", { class: "field grow combo" }, h("label", { for: "d-type" }, _("Incident type")), typeInput, typeList),
      h("label", { class: "field field-prio" }, _("Priority"), prio)),
    h("button", { type: "submit", class: "btn" }, _("Save changes")));
  combo({ input: typeInput, list: typeList, search: typeSearch, render: renderType,
    pick: (t) => { newType = t; typeInput.value = typeName(t.code); if (!prioTouched) prio.value = String(t.priority); } });
  edit.addEventListener("submit", async (e) => {
    e.preventDefault();
    const current = state.calls.get(id);
    const body = {};
    if (newType && newType.code !== current.incident_type) body.incident_type = newType.code;
    if (Number(prio.value) !== current.priority && (prioTouched || !body.incident_type)) body.priority = Number(prio.value);
    if (!Object.keys(body).length) return;
    await act(api.updateCall(id, body), _("Call updated"));
  });

  // Move the call: address search or a point on the map.
  const addr = h("input", { type: "text", role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false", id: "d-address", placeholder: _("Search address…"), "aria-label": _("New location") });
  const addrList = h("ul", { class: "dropdown", role: "listbox", hidden: true });
  combo({ input: addr, list: addrList, search: geocodeSearch, render: renderPlace, autoActive: false, delay: 180,
    pick: async (r) => {
      addr.value = "";
      await act(api.updateCall(id, { location: { lat: r.lat, lon: r.lon, accuracy_m: KIND_ACCURACY[r.kind] || 100, source: "address" } }), _("Location changed"));
    } });
  addr.addEventListener("keydown", async (e) => {
    // Enter on free text: let the server geocode it (and keep the text as the address).
    if (e.key === "Enter" && addr.value.trim() && addrList.hidden) {
      e.preventDefault();
      const text = addr.value.trim();
      addr.value = "";
      await act(api.updateCall(id, { address: text }), _("Location changed"));
    }
  });
  const move = h("div", { class: "d-form" },
    h("div", { class: "field combo" }, h("label", { for: "d-address" }, _("Change location")), addr, addrList),
    h("button", { type: "button", class: "btn", id: "d-pick", onclick: () => { setPick({ callId: id }); } }, _("Pick on the map")));

  // Note.
  const note = h("textarea", { rows: 2, id: "d-note", maxlength: 2000, "aria-label": _("Note") });
  const noteForm = h("form", { class: "d-form" },
    h("label", { class: "field" }, _("Note"), note),
    h("button", { type: "submit", class: "btn" }, _("Add note"), " ", h("kbd", {}, "Ctrl+Enter")));
  const sendNote = async () => {
    const text = note.value.trim();
    if (!text) return;
    if (await act(api.addNote(id, text), _("Note added"))) note.value = "";
  };
  noteForm.addEventListener("submit", (e) => { e.preventDefault(); sendNote(); });
  note.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); sendNote(); } });

  // Merge into another call.
  const into = h("input", { type: "text", id: "d-merge", placeholder: "C-2026-000041", "aria-label": _("Merge into (reference)") });
  const mergeForm = h("form", { class: "d-form" },
    h("label", { class: "field" }, _("Merge into another call"), into),
    h("div", { class: "row" }, (call.possible_duplicates || []).map((d) => h("button", { type: "button", class: "btn btn-small", onclick: () => { into.value = refOf(d); } }, refOf(d))),
      h("button", { type: "submit", class: "btn" }, _("Merge"))));
  mergeForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = into.value.trim();
    if (!text) return;
    let target = [...state.calls.values()].find((c) => c.reference === text || String(c.id) === text);
    if (!target) {
      try { target = (await api.findCalls(text)).results.find((c) => c.reference.toLowerCase() === text.toLowerCase()); } catch (error) { failed(error); return; }
    }
    if (!target) { toast(fmt(_("No call %(ref)s."), { ref: text }), "error"); return; }
    if (await act(api.merge(id, target.id), fmt(_("Merged into %(ref)s"), { ref: target.reference }))) into.value = "";
  });

  // Close with a disposition; cancel.
  const disposition = h("select", { id: "d-disposition", "aria-label": _("Disposition") },
    h("option", { value: "" }, _("Disposition…")), DISPOSITIONS.map(([code, label]) => h("option", { value: code }, label)));
  const closeNotes = h("input", { type: "text", id: "d-close-notes", placeholder: _("Notes (optional)"), "aria-label": _("Notes (optional)") });
  const closeForm = h("form", { class: "d-form" },
    h("label", { class: "field" }, _("Close the call"), h("div", { class: "row" }, disposition, closeNotes)),
    h("button", { type: "submit", class: "btn btn-primary", id: "d-close" }, _("Close call")));
  closeForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!disposition.value) { disposition.focus(); toast(_("Choose a disposition."), "error"); return; }
    await act(api.close(id, disposition.value, closeNotes.value.trim()), _("Call closed"));
  });
  const reason = h("input", { type: "text", id: "d-cancel-reason", placeholder: _("Reason"), "aria-label": _("Reason") });
  const cancelForm = h("div", { class: "d-form" },
    h("label", { class: "field" }, _("Cancel the call"), reason),
    confirmButton(`call:${id}`, _("Cancel call"), _("Cancel the call? Press again"), () => act(api.cancel(id, reason.value.trim()), _("Call cancelled")), { id: "d-cancel" }));

  return {
    note: h("div", { class: "d-actions" }, section(_("Note"), noteForm)),
    more: h("div", { class: "d-actions" },
      section(_("Change"), edit, move),
      section(_("Merge"), mergeForm),
      section(_("Close"), closeForm, cancelForm)),
  };
}

// --- rendering schedule ----------------------------------------------------------------------------------

const dirty = { queue: false, alerts: false, units: false, detail: false, map: false, unitIds: new Set(), callIds: new Set() };
let frame = 0;
let unitsBoardAt = 0;

function invalidate(...parts) {
  for (const part of parts) dirty[part] = true;
  if (!frame) frame = requestAnimationFrame(flush);
}

function flush() {
  frame = 0;
  if (dirty.queue) { dirty.queue = false; renderQueue(); }
  if (dirty.alerts) { dirty.alerts = false; renderAlerts(); }
  if (dirty.detail) { dirty.detail = false; renderDetail(); }
  if (dirty.map) {
    dirty.map = false;
    for (const [id, entry] of callMarkers) {
      if (!state.calls.has(id)) { callLayer.removeLayer(entry.marker); callLayer.removeLayer(entry.circle); callMarkers.delete(id); }
    }
    for (const call of state.calls.values()) drawCall(call);
    for (const [id, entry] of unitMarkers) if (!state.units.has(id)) { unitLayer.removeLayer(entry.marker); unitMarkers.delete(id); }
    for (const unit of state.units.values()) drawUnit(unit);
    dirty.unitIds.clear();
    dirty.callIds.clear();
    drawLinks();
  } else {
    for (const id of dirty.callIds) { const c = state.calls.get(id); if (c) drawCall(c); else invalidate("map"); }
    for (const id of dirty.unitIds) { const u = state.units.get(id); if (u) drawUnit(u); }
    if (dirty.callIds.size || dirty.unitIds.size) drawLinks();
    dirty.callIds.clear();
    dirty.unitIds.clear();
  }
  // Position reports can arrive many times a second; the board is redrawn at most once a second.
  if (dirty.units && tab === "units") {
    const wait = 1000 - (Date.now() - unitsBoardAt);
    if (wait <= 0) { dirty.units = false; unitsBoardAt = Date.now(); renderUnits(); } else setTimeout(() => invalidate("units"), wait);
  }
}

state.subscribe((change) => {
  if (change.reset) { invalidate("queue", "alerts", "units", "map", "detail"); if (detail) { loadCandidates(); loadTimeline(); } return; }
  if (change.calls.size) {
    for (const id of change.calls) dirty.callIds.add(id);
    invalidate("queue");
    if (detail && change.calls.has(detail.id)) {
      invalidate("detail");
      timelineSoon();
      candidatesSoon();
    }
  }
  if (change.units.size) {
    for (const id of change.units) dirty.unitIds.add(id);
    invalidate("units");
    if (detail) {
      const call = state.calls.get(detail.id);
      // A unit that became available (or stopped being) near the open call changes the candidates.
      const event = change.event;
      if (call && call.location && event && event.data && event.data.location && haversine(call.location, event.data.location) <= detail.radius) candidatesSoon();
    }
  }
  if (change.alerts) {
    invalidate("alerts", "queue");
    if (change.alert && change.live && !change.alert.dismissed) {
      const call = state.calls.get(change.alert.call);
      beep(call ? call.priority === 1 : false);
    }
  }
});

// --- connection --------------------------------------------------------------------------------------------

let snapshotSeq = 0;
let everLive = false;

async function loadSnapshot() {
  const mine = ++snapshotSeq;
  state.beginSnapshot();
  setConn("sync");
  try {
    const [calls, units] = await Promise.all([api.openCalls(), api.units()]);
    if (mine !== snapshotSeq) return;
    state.finishSnapshot({ calls, units });
    setConn(feed.socket && feed.socket.readyState === WebSocket.OPEN ? "live" : "down");
  } catch (error) {
    if (mine !== snapshotSeq) return;
    failed(error);
    setTimeout(() => { if (mine === snapshotSeq) loadSnapshot(); }, 3000);
  }
}

function setConn(status, info = {}) {
  const box = $("conn");
  const text = {
    connecting: _("Connecting…"), live: _("Live"), sync: _("Loading…"),
    down: _("Disconnected"), reconnecting: _("Reconnecting…"),
    degraded: _("Degraded: updates every second"),
  }[status] || status;
  box.className = `conn conn-${status}`;
  $("conn-text").textContent = info.attempt && status !== "live" ? `${text} (${info.attempt})` : text;
  const offline = status === "down" || (status === "reconnecting" && everLive);
  $("offline").hidden = !offline;
  document.body.classList.toggle("is-offline", offline);
  if (status === "live") everLive = true;
}

const feed = new Feed({
  cursor: () => state.lastId,
  onMessage: (message) => {
    // The server's word on the live channel: while Redis is down it follows the journal.
    if (message.type === "status") { setConn(message.degraded ? "degraded" : "live"); return; }
    if (state.receive(message) === "snapshot") loadSnapshot();
  },
  onStatus: (status, info) => {
    if (status === "live" && !state.ready) { setConn("sync"); everLive = true; return; }
    setConn(status, info);
    if (status === "down" && (info.code === 4403 || info.code === 4401)) api.get("/incident-types/").catch(() => {});  // a lapsed session goes to the login page
  },
});

// --- keyboard ----------------------------------------------------------------------------------------------

function moveInQueue(step) {
  const items = [...$("queue-list").querySelectorAll("[data-id]")];
  if (!items.length) return;
  const ids = items.map((el) => Number(el.dataset.id));
  const focusedEl = document.activeElement && document.activeElement.closest && document.activeElement.closest("#queue-list [data-id]");
  const from = focusedEl ? ids.indexOf(Number(focusedEl.dataset.id)) : ids.indexOf(selectedId);
  const to = from < 0 ? 0 : Math.max(0, Math.min(ids.length - 1, from + step));
  select(ids[to]);
  requestAnimationFrame(() => { const el = $("queue-list").querySelector(`[data-id="${ids[to]}"]`); if (el) el.focus(); });
}

document.addEventListener("keydown", (e) => {
  const target = e.target;
  const typing = target.closest && target.closest("input, textarea, select, [contenteditable]");
  if (e.key === "Escape") {
    if (pickTarget) { setPick(null); e.preventDefault(); return; }
    if ($("help").open) return;
    if (typing) { target.blur(); e.preventDefault(); return; }
    map.closePopup();
    return;
  }
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  const actions = {
    n: () => { showTab("call"); $("nc-phone").focus(); },
    "/": () => $("queue-filter").focus(),
    u: () => showTab("units"),
    c: () => showTab("call"),
    m: toggleSound,
    a: () => state.dismissAlerts(),
    "?": () => $("help").showModal(),
    ArrowDown: () => moveInQueue(1),
    j: () => moveInQueue(1),
    ArrowUp: () => moveInQueue(-1),
    k: () => moveInQueue(-1),
  };
  const run = actions[key] || actions[e.key];
  if (!run) return;
  if (target.closest && target.closest(".leaflet-container") && e.key.startsWith("Arrow")) return;  // arrows pan the map there
  e.preventDefault();
  run();
});
$("help-button").addEventListener("click", () => $("help").showModal());
$("language").addEventListener("change", () => $("language").form.submit());

// Ages tick every second without redrawing anything else.
setInterval(() => {
  for (const el of document.querySelectorAll("[data-since]")) el.textContent = elapsed(el.dataset.since);
  for (const el of document.querySelectorAll("[data-age]")) el.textContent = age(el.dataset.age);
}, 1000);
// Staleness changes with time alone: redraw units now and then.
setInterval(() => { for (const unit of state.units.values()) drawUnit(unit); invalidate("units"); }, 15000);

// --- start ---------------------------------------------------------------------------------------------------

renderSound();
(async () => {
  try {
    for (const t of await api.incidentTypes()) types.set(t.code, t);
  } catch (error) { failed(error); }
  feed.start();
})();
