// The new call form: caller, incident type (search in the page's language), priority,
// location (geocoder answer or a point on the map, which can be dragged), description.

import { ApiError } from "./api.js";
import { select } from "./call-detail.js";
import { api, state } from "./ctx.js";
import { $, combo, fill, h, haversine, toast } from "./dom.js";
import { KIND_ACCURACY, geocodeSearch, renderPlace, renderType, typeName, typeSearch } from "./lookup.js";
import { draftLayer, map } from "./map.js";
import { PLACE_KIND, _, fmt, metres } from "./words.js";

const draft = { type: null, priorityTouched: false, location: null };
let submitting = false;

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

// A click on the map: the new call's location, named by the reverse geocoder if it can.
export async function placeDraft(lat, lon, accuracy) {
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
}

function setType(t) {
  draft.type = t;
  $("nc-type").value = t ? typeName(t.code) : "";
  if (t && !draft.priorityTouched) $("nc-priority").value = String(t.priority);
}

function resetForm() {
  $("new-call").reset();
  draft.type = null;
  draft.priorityTouched = false;
  draft.location = null;
  showDraftLocation();
  $("nc-error").textContent = "";
}

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

export function setupCallForm() {
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

  $("new-call").addEventListener("reset", () => setTimeout(resetForm));
  $("new-call").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submitCall(); }
  });
  $("new-call").addEventListener("submit", (e) => { e.preventDefault(); submitCall(); });
}
