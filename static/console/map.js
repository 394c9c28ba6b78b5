// The map: calls by priority with the caller's uncertainty circle, units by service, lines
// from the open call to its units, and picking a point (for a new call, or to move a call).

import { api, assign, cfg, isFree, isStale, state, view } from "./ctx.js";
import { $, escapeHtml, failed, fill, h, toast } from "./dom.js";
import { typeName } from "./lookup.js";
import { _, age, fmt, serviceLabel, statusLabel } from "./words.js";

window.DispatchTexts.leafletWords();  // Leaflet's buttons in the operator's language
export const map = L.map("map", { zoomControl: true, preferCanvas: false }).setView(cfg.centre, 12);
// Raster tiles from MAP_TILE_URL, or the app's own streets when the URL is empty or its
// tiles fail (static/map/basemap.js); nothing to draw leaves the plain background and a note.
DispatchBasemap.attach(map, cfg.tiles, cfg.basemap, (mode) => $("map").classList.toggle("no-tiles", mode === "none"));
L.control.scale({ imperial: false }).addTo(map);
map.attributionControl.setPrefix("Leaflet");

const callLayer = L.layerGroup().addTo(map);
const unitLayer = L.layerGroup().addTo(map);
const linkLayer = L.layerGroup().addTo(map);
export const draftLayer = L.layerGroup().addTo(map);
const callMarkers = new Map();  // id → {marker, circle, html}
const unitMarkers = new Map();  // id → {marker, html}

// What a click on a call marker or on an empty spot means: set by setupMap.
const on = { select: () => {}, point: () => {} };

function callIconHtml(call) {
  const flags = state.callFlags(call);
  const tail = `#${(call.reference || "").split("-").pop().replace(/^0+/, "")}`;
  const cls = ["cm", `p${call.priority}`, call.id === view.selectedId ? "selected" : "", flags.length ? "flagged" : ""].join(" ");
  return `<div class="${cls}"><b>${call.priority}</b><span>${escapeHtml(`${tail} · ${typeName(call.incident_type)}`)}</span></div>`;
}

function unitIconHtml(unit) {
  const cls = ["um", `svc-${unit.service}`, `st-${unit.status}`, isStale(unit) ? "stale" : ""].join(" ");
  return `<div class="${cls}"><i></i>${escapeHtml(unit.callsign)}</div>`;
}

function removeCall(id) {
  const entry = callMarkers.get(id);
  if (!entry) return;
  callLayer.removeLayer(entry.marker);
  callLayer.removeLayer(entry.circle);
  callMarkers.delete(id);
}

function drawCall(call) {
  let entry = callMarkers.get(call.id);
  const show = call.location && (state.isOpen(call) || call.id === view.selectedId);
  if (!show) { removeCall(call.id); return; }
  const at = [call.location.lat, call.location.lon];
  const html = callIconHtml(call);
  const radius = call.location.accuracy_m || 0;
  if (!entry) {
    const marker = L.marker(at, { icon: L.divIcon({ className: "call-icon", html, iconSize: null }), zIndexOffset: 1000,
      keyboard: false, title: call.reference });
    marker.on("click", () => on.select(call.id));
    const circle = L.circle(at, { radius, className: `uncertainty p${call.priority}`, interactive: false });
    callLayer.addLayer(circle).addLayer(marker);
    entry = { marker, circle, html };
    callMarkers.set(call.id, entry);
  } else {
    entry.marker.setLatLng(at);
    entry.circle.setLatLng(at).setRadius(radius);
    if (entry.html !== html) { entry.marker.setIcon(L.divIcon({ className: "call-icon", html, iconSize: null })); entry.html = html; }
  }
  entry.marker.setZIndexOffset(call.id === view.selectedId ? 2000 : 1000 - call.priority * 100);
}

function drawUnit(unit) {
  const entry = unitMarkers.get(unit.id);
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
  const call = view.selectedId ? state.calls.get(view.selectedId) : null;
  const body = h("div", { class: "popup" },
    h("strong", {}, unit.callsign), " ", h("span", { class: `svc svc-${unit.service}` }, serviceLabel(unit.service)),
    h("div", {}, statusLabel(unit.status), " · ", age(unit.location && unit.location.recorded_at)),
    unit.capabilities.length ? h("div", { class: "muted" }, unit.capabilities.join(", ")) : null,
    unit.active_assignment ? h("div", {}, _("Call"), ": ", unit.active_assignment.call_reference) : null);
  if (call && state.isOpen(call) && isFree(unit)) {
    body.append(h("button", { type: "button", class: "btn btn-primary", onclick: () => { map.closePopup(); assign(call, unit); } },
      fmt(_("Assign to %(ref)s"), { ref: call.reference })));
  }
  return body;
}

// The open call's units and their routes (GET /route/, issue 16): a straight dashed line
// until the route is known, then the road; asked again when a unit has moved ~100 m.
const routes = new Map();  // assignment id -> {key, line: [[lat, lon], ...] | null (asked)}

function routeKey(unit, call) {
  const r = (x) => x.toFixed(3);
  return `${r(unit.location.lat)},${r(unit.location.lon)}>${r(call.location.lat)},${r(call.location.lon)}`;
}

function askRoute(a, unit, call, key) {
  routes.set(a.id, { key, line: null });
  api.route(unit.location, call.location).then((r) => {
    const entry = routes.get(a.id);
    if (!entry || entry.key !== key) return;
    entry.line = r.basis === "road" ? r.geometry.coordinates.map(([lon, lat]) => [lat, lon]) : null;
    drawLinks();
  }).catch(() => {});  // the straight line stays
}

function drawLinks() {
  linkLayer.clearLayers();
  const call = view.selectedId && state.calls.get(view.selectedId);
  if (!call || !call.location) return;
  for (const a of state.activeAssignments(call)) {
    const unit = state.units.get(a.unit.id);
    if (!unit || !unit.location) continue;
    const key = routeKey(unit, call);
    const known = routes.get(a.id);
    if (!known || known.key !== key) askRoute(a, unit, call, key);
    const line = known && known.key === key && known.line;
    if (line) {
      L.polyline(line, { className: `route svc-${unit.service}`, interactive: false }).addTo(linkLayer);
    } else {
      L.polyline([[unit.location.lat, unit.location.lon], [call.location.lat, call.location.lon]],
        { className: `link svc-${unit.service}`, interactive: false }).addTo(linkLayer);
    }
  }
}

// Every marker from the state: those of calls and units no longer there go.
export function drawAll() {
  for (const id of callMarkers.keys()) if (!state.calls.has(id)) removeCall(id);
  for (const call of state.calls.values()) drawCall(call);
  for (const [id, entry] of unitMarkers) if (!state.units.has(id)) { unitLayer.removeLayer(entry.marker); unitMarkers.delete(id); }
  for (const unit of state.units.values()) drawUnit(unit);
  drawLinks();
}

// Only these calls' and units' markers. True when a call has left the state, which takes
// a whole redraw (drawAll).
export function drawItems(callIds, unitIds) {
  let whole = false;
  for (const id of callIds) { const c = state.calls.get(id); if (c) drawCall(c); else whole = true; }
  for (const id of unitIds) { const u = state.units.get(id); if (u) drawUnit(u); }
  if (callIds.size || unitIds.size) drawLinks();
  return whole;
}

// Staleness changes with time alone.
export function drawUnits() {
  for (const unit of state.units.values()) drawUnit(unit);
}

export function focusUnit(id) {
  const unit = state.units.get(id);
  const entry = unitMarkers.get(id);
  if (!unit || !entry) return;
  map.setView(entry.marker.getLatLng(), Math.max(map.getZoom(), 15));
  entry.marker.openPopup();
}

// Picking a point on the map: for the new call by default, or to move the selected call.
let pickTarget = null;  // null = new call; or {callId}

export const picking = () => pickTarget !== null;

export function setPick(target) {
  pickTarget = target;
  const banner = $("pick-banner");
  $("map").classList.toggle("picking", !!target);
  if (target) {
    const call = state.calls.get(target.callId);
    fill(banner, fmt(_("Click the map to move %(ref)s. Esc to stop."), { ref: call ? call.reference : "" }));
    banner.hidden = false;
  } else banner.hidden = true;
}

// onSelect(callId): a call marker was clicked; onPoint(lat, lon, accuracy_m): an empty spot
// was, with no call being moved (a point for the new call).
export function setupMap({ onSelect, onPoint }) {
  on.select = onSelect;
  on.point = onPoint;
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
    on.point(lat, lon, accuracy);
  });
}
