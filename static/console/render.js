// The rendering schedule: a change marks parts of the page dirty, and each dirty part is
// redrawn once, in the next animation frame. This module knows when; the views know how,
// and main.js introduces them (setPainters), so the views can ask for a redraw without
// importing each other.

import { view } from "./ctx.js";

// part → function: queue, alerts, detail, units, map (everything) and mapItems(callIds,
// unitIds) (only those; returns true when the whole map must be redrawn).
const painters = {};
const dirty = { queue: false, alerts: false, units: false, detail: false, map: false, unitIds: new Set(), callIds: new Set() };
let frame = 0;
let unitsBoardAt = 0;

export function setPainters(given) {
  Object.assign(painters, given);
}

// Redraw one part now (a tab that was hidden is drawn as it opens).
export function paint(part) {
  painters[part]();
}

export function invalidate(...parts) {
  for (const part of parts) dirty[part] = true;
  if (!frame) frame = requestAnimationFrame(flush);
}

// Calls and units whose markers alone need redrawing.
export function invalidateMarkers({ calls = [], units = [] }) {
  for (const id of calls) dirty.callIds.add(id);
  for (const id of units) dirty.unitIds.add(id);
}

function flush() {
  frame = 0;
  if (dirty.queue) { dirty.queue = false; painters.queue(); }
  if (dirty.alerts) { dirty.alerts = false; painters.alerts(); }
  if (dirty.detail) { dirty.detail = false; painters.detail(); }
  if (dirty.map) {
    dirty.map = false;
    painters.map();
  } else if (painters.mapItems(dirty.callIds, dirty.unitIds)) {
    invalidate("map");
  }
  dirty.callIds.clear();
  dirty.unitIds.clear();
  // Position reports can arrive many times a second; the board is redrawn at most once a second.
  if (dirty.units && view.tab === "units") {
    const wait = 1000 - (Date.now() - unitsBoardAt);
    if (wait <= 0) { dirty.units = false; unitsBoardAt = Date.now(); painters.units(); } else setTimeout(() => invalidate("units"), wait);
  }
}
