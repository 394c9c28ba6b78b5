// The operator console, the page's entry module: renders state.js onto the page and turns
// the operator's input into api.js calls. Plain DOM and ES modules, no framework, no build
// step. This module wires the views together, keeps the feed connected and owns the keyboard.
//
//   words.js   strings and number formats in the page's language (Django's JS catalogue)
//   dom.js     element helpers, toasts, two-press buttons, the combobox
//   ctx.js     the page config (with the server's status lists), the API, the state, the view
//   lookup.js  incident types and geocoder answers for the comboboxes
//   render.js  the rendering schedule (once per animation frame)
//   map.js, call-form.js, queue.js, alerts.js, units-board.js, tabs.js,
//   call-detail.js, call-actions.js   the parts of the page

import { beep, renderAlerts, setupSound, toggleSound } from "./alerts.js";
import { Feed } from "./api.js";
import { detailCallsChanged, detailReloaded, detailUnitChanged, renderDetail, select } from "./call-detail.js";
import { placeDraft, setupCallForm } from "./call-form.js";
import { api, state } from "./ctx.js";
import { $, failed } from "./dom.js";
import { loadTypes } from "./lookup.js";
import { drawAll, drawItems, drawUnits, map, picking, setPick, setupMap } from "./map.js";
import { moveInQueue, renderQueue, setupQueue } from "./queue.js";
import { invalidate, invalidateMarkers, setPainters } from "./render.js";
import { showTab } from "./tabs.js";
import { renderUnits, setupUnitsBoard } from "./units-board.js";
import { _, age, elapsed } from "./words.js";

window.__console = { state, api };  // for the browser tests and for a curious operator's devtools

// --- boot ------------------------------------------------------------------------------------------

setPainters({ queue: renderQueue, alerts: renderAlerts, detail: renderDetail, units: renderUnits, map: drawAll, mapItems: drawItems });
setupMap({ onSelect: select, onPoint: placeDraft });
setupCallForm();
setupQueue();
setupSound();
setupUnitsBoard();
$("tab-call").addEventListener("click", () => showTab("call"));
$("tab-units").addEventListener("click", () => showTab("units"));

state.subscribe((change) => {
  if (change.reset) { invalidate("queue", "alerts", "units", "map", "detail"); detailReloaded(); return; }
  if (change.calls.size) {
    invalidateMarkers({ calls: change.calls });
    invalidate("queue");
    detailCallsChanged(change.calls);
  }
  if (change.units.size) {
    invalidateMarkers({ units: change.units });
    invalidate("units");
    detailUnitChanged(change.event);
  }
  if (change.alerts) {
    invalidate("alerts", "queue");
    if (change.alert && change.live && !change.alert.dismissed) {
      const call = state.calls.get(change.alert.call);
      beep(call ? call.priority === 1 : false);
    }
  }
});

// --- connection --------------------------------------------------------------------------------------

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

// --- keyboard ----------------------------------------------------------------------------------------

document.addEventListener("keydown", (e) => {
  const target = e.target;
  const typing = target.closest && target.closest("input, textarea, select, [contenteditable]");
  if (e.key === "Escape") {
    if (picking()) { setPick(null); e.preventDefault(); return; }
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
setInterval(() => { drawUnits(); invalidate("units"); }, 15000);

// --- start ---------------------------------------------------------------------------------------------

(async () => {
  try { await loadTypes(); } catch (error) { failed(error); }
  feed.start();
})();
