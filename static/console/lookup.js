// What the operator picks from in the comboboxes: incident types (named in the page's
// language) and the geocoder's answers.

import { api } from "./ctx.js";
import { h } from "./dom.js";
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

export const geocodeSearch = async (q) => (q.length < 2 ? [] : (await api.geocode(q)).results);

export const renderPlace = (r) => [h("span", { class: `kind kind-${r.kind}` }, PLACE_KIND[r.kind] || r.kind), " ", r.label];
