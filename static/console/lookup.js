// What the operator picks from in the comboboxes: incident types (named in the page's
// language) and the geocoder's answers.

import { api } from "./ctx.js";
import { h } from "./dom.js";
import { map } from "./map.js";
import { PLACE_KIND, lang } from "./words.js";

export const types = new Map();  // code → incident type, read once at start

// How precise a geocoder answer is, by kind (the server uses the same figures).
export const KIND_ACCURACY = { address: 30, intersection: 50, place: 100, street: 500 };

export async function loadTypes() {
  for (const t of await api.incidentTypes()) types.set(t.code, t);
}

export function typeName(code) {
  const t = types.get(code);
  if (!t) return code || "";
  return t[`name_${lang}`] || t.name_ru || t.name_en || code;
}

export const typeSearch = async (q) => {
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

export const renderType = (t) => [h("span", { class: `prio p${t.priority}` }, `P${t.priority}`), " ", typeName(t.code)];

// The map view goes with the text: `улица Сункар` names two streets 6.7 km apart, and the
// one the operator is looking at comes first. (map.js imports this module too; `map` is
// only read when the operator types, long after both modules have loaded.)
const mapView = () => {
  const b = map.getBounds();  // a zoomed-out world view runs past ±180°: clamped, or the server says 400
  const [w, s, e, n] = [Math.max(b.getWest(), -180), Math.max(b.getSouth(), -90), Math.min(b.getEast(), 180), Math.min(b.getNorth(), 90)];
  return w < e && s < n ? [w, s, e, n].map((v) => v.toFixed(5)).join(",") : "";
};
export const geocodeSearch = async (q) => (q.length < 2 ? [] : (await api.geocode(q, 8, mapView())).results);

export const renderPlace = (r) => [h("span", { class: `kind kind-${r.kind}` }, PLACE_KIND[r.kind] || r.kind), " ", r.label];
