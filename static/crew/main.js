// The crew app: pairing, the unit's state from GET /me/ and the unit feed, the crew's
// actions (queued while offline, replayed in order) and the phone's positions.

import { ApiError, Offline, get, pairFromLink, post, token } from "./api.js";
import { Feed } from "./feed.js";
import { watch } from "./geo.js";
import * as outbox from "./outbox.js";
import { conn, render, show } from "./view.js";
import { _, fmt } from "./words.js";

const config = JSON.parse(document.getElementById("crew-config").textContent);
const ACTIVE = new Set(config.statuses.assignment.active);
const RUNG = "crew.rung";
const FLUSH_EVERY_MS = 5000;

const state = {
  unit: null, assignment: null, call: null, fix: null, gps: null,
  pending: [], queuedFixes: 0, busy: false, ringing: false,
};

const draw = () => render(state, config);

// --- signing in and out ---------------------------------------------------------------------

let feed = null;
let stopWatching = () => {};

async function signOut(reason) {
  if (feed) feed.stop();
  stopWatching();
  token.forget();
  localStorage.removeItem(RUNG);
  await outbox.clearAll().catch(() => {});
  if (feed) feed.forget();
  Object.assign(state, { unit: null, assignment: null, call: null, fix: null, pending: [], queuedFixes: 0, ringing: false });
  draw();
  if (reason) document.getElementById("signed-out-text").textContent = reason;
  show(reason ? "signed-out" : "pair");
  conn("down");
}

function revoked() {
  signOut(_("This phone's token is no longer valid: a new one was issued for the unit, or it was revoked. Scan the unit's new QR code."));
}

// --- state from the server ------------------------------------------------------------------

let refreshing = null;

/* GET /me/: the unit, its active assignment and that call. Used at start, on every
   (re)connection and on a resync; events keep it current in between. */
function refresh() {
  if (!refreshing) {
    refreshing = get("me/").then((me) => {
      state.unit = me.unit;
      state.assignment = me.assignment && ACTIVE.has(me.assignment.status) ? me.assignment : null;
      state.call = me.call;
      applyPending();
      if (state.assignment && state.assignment.status === "assigned") ring(state.assignment);
      draw();
    }).catch((error) => {
      if (error instanceof ApiError && error.signedOut) revoked();
      else if (!(error instanceof Offline)) console.warn("refresh failed", error);
    }).finally(() => { refreshing = null; });
  }
  return refreshing;
}

function receive(message) {
  const data = message.data;
  switch (message.type) {
    case "unit.updated":
      if (state.unit && data.id === state.unit.id) state.unit = data;
      break;
    case "assignment.created":
    case "assignment.updated": {
      if (!state.unit || data.unit.id !== state.unit.id) break;
      if (ACTIVE.has(data.status)) {
        state.assignment = data;
        if (!state.call || state.call.id !== data.call) refresh();  // the call's details
        if (data.status === "assigned") ring(data);
      } else if (state.assignment && state.assignment.id === data.id) {
        state.assignment = null;
        state.call = null;
        state.ringing = false;
        if (data.status !== "cleared" && data.status !== "declined") {
          toast(fmt(_("Assignment %(ref)s ended: %(status)s"), {
            ref: data.call_reference, status: config.statuses.labels[data.status] || data.status,
          }));
        }
      }
      break;
    }
    case "call.created":
    case "call.updated":
      if (state.assignment && data.id === state.assignment.call) state.call = data;
      break;
    case "resync":
      refresh();
      break;
    case "status":
      conn(message.degraded ? "degraded" : "live");
      break;
    default:
      return;
  }
  applyPending();
  draw();
}

// --- a new assignment rings ---------------------------------------------------------------

let audio = null;

function unlockAudio() {
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === "suspended") audio.resume();
  } catch { audio = null; }
}

function beep() {
  if (!audio || audio.state !== "running") return;
  const start = audio.currentTime;
  for (let i = 0; i < 3; i += 1) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = i % 2 ? 660 : 880;
    gain.gain.setValueAtTime(0.6, start + i * 0.5);
    gain.gain.setValueAtTime(0, start + i * 0.5 + 0.35);
    osc.connect(gain).connect(audio.destination);
    osc.start(start + i * 0.5);
    osc.stop(start + i * 0.5 + 0.4);
  }
}

function rungIds() {
  try { return JSON.parse(localStorage.getItem(RUNG)) || []; } catch { return []; }
}

function ring(assignment) {
  const rung = rungIds();
  if (rung.includes(assignment.id)) return;
  localStorage.setItem(RUNG, JSON.stringify([...rung, assignment.id].slice(-50)));
  state.ringing = true;
  beep();
  if (navigator.vibrate) navigator.vibrate([600, 200, 600, 200, 600]);
  if ("Notification" in window && Notification.permission === "granted" && navigator.serviceWorker) {
    navigator.serviceWorker.ready.then((registration) => registration.showNotification(_("New assignment"), {
      body: assignment.call_reference, tag: "assignment", renotify: true, requireInteraction: true,
      vibrate: [600, 200, 600, 200, 600], icon: "/static/crew/icon-192.png",
    })).catch(() => {});
  }
}

function toast(text) {
  const note = document.createElement("div");
  note.className = "toast";
  note.setAttribute("role", "status");
  note.textContent = text;
  document.body.append(note);
  setTimeout(() => note.remove(), 6000);
}

// --- the crew's actions ---------------------------------------------------------------------

// What an action does to the assignment on this phone at once, before the server confirms
// it (offline, it may be minutes): the screen must follow the crew's hand.
const EFFECT = {
  acknowledge: { assignment: "acknowledged", unit: "en_route" },
  arrive: { assignment: "on_scene", unit: "on_scene" },
  decline: { ended: true },
  clear: { ended: true, unit: "available" },
  transport: { ended: true, unit: "transporting" },
};

function applyPending() {
  for (const action of state.pending) {
    const a = state.assignment;
    if (!a || a.id !== action.assignment) continue;
    const effect = EFFECT[action.kind];
    if (effect.ended) {
      state.assignment = null;
      state.call = null;
    } else if (effect.assignment === "on_scene" || a.status === "assigned") {
      state.assignment = { ...a, status: effect.assignment };
    }
    if (effect.unit && state.unit) state.unit = { ...state.unit, status: effect.unit };
  }
}

async function act(kind, body = {}) {
  const a = state.assignment;
  if (!a) return;
  state.ringing = false;
  const path = { transport: "clear", acknowledge: "acknowledge", arrive: "arrive", decline: "decline", clear: "clear" }[kind];
  if (kind === "transport") body = { transporting: true };
  if (kind === "clear") body = { transporting: false };
  await outbox.queueAction({ kind, assignment: a.id, path: `assignments/${a.id}/${path}/`, body });
  await sync();
}

async function setStatus(status) {
  state.busy = true;
  draw();
  try {
    state.unit = await post("me/status/", { status });
  } catch (error) {
    if (error instanceof ApiError && error.signedOut) { revoked(); return; }
    toast(error instanceof Offline ? _("No connection: try again when the network is back.") : error.message);
  } finally {
    state.busy = false;
    draw();
  }
}

/* Send whatever waits (actions in order, then positions) and show what is left. */
async function sync() {
  state.pending = await outbox.pendingActions();
  applyPending();
  draw();
  const result = await outbox.flush({
    onRejected: (action, error) => toast(fmt(_("Not done: %(detail)s"), { detail: error.message })),
    onSignedOut: revoked,
  });
  state.pending = await outbox.pendingActions();
  state.queuedFixes = await outbox.pendingFixes();
  if (result.actions) await refresh();
  applyPending();
  draw();
  return result;
}

// --- start ------------------------------------------------------------------------------------

function wire() {
  const $ = (id) => document.getElementById(id);
  $("act-ack").addEventListener("click", () => act("acknowledge"));
  $("act-arrive").addEventListener("click", () => act("arrive"));
  $("act-clear").addEventListener("click", () => act("clear"));
  $("act-transport").addEventListener("click", () => act("transport"));
  const dialog = $("decline-dialog");
  $("act-decline").addEventListener("click", () => { $("decline-reason").value = ""; dialog.showModal(); });
  $("decline-cancel").addEventListener("click", () => dialog.close());
  $("decline-form").addEventListener("submit", () => {
    const reason = $("decline-reason").value.trim();
    if (reason) act("decline", { reason });
  });
  $("self-status").addEventListener("click", (event) => {
    const status = event.target.closest("button")?.dataset.status;
    if (status) setStatus(status);
  });
  $("alerts-enable").addEventListener("click", async () => {
    unlockAudio();
    if ("Notification" in window) await Notification.requestPermission().catch(() => {});
    draw();
  });
  $("sign-out").addEventListener("click", () => {
    if (confirm(_("Sign this phone out of the unit? It takes the unit's QR code to sign in again."))) signOut(null);
  });
  $("language").addEventListener("change", (event) => event.target.form.submit());
  // Browsers allow sound only after a tap: the first one anywhere unlocks the ring.
  document.addEventListener("pointerdown", unlockAudio, { once: true });
  window.addEventListener("online", () => { if (feed) feed.kick(); sync(); });
  // The phone says its network is gone: a socket may still look open, but nothing will
  // come through it. Say so, and reconnect (resuming from the last id) once it is back.
  window.addEventListener("offline", () => { if (feed) feed.drop(); conn("down"); });
  // A pairing link opened in a tab that already shows the app changes only the fragment.
  window.addEventListener("hashchange", () => { if (pairFromLink()) location.reload(); });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && feed) { feed.kick(); sync(); }
  });
}

function start() {
  pairFromLink();
  if (!token.get()) { show("pair"); conn("down"); return; }
  show("main");
  if ("serviceWorker" in navigator) navigator.serviceWorker.register(config.sw, { scope: "/crew/" }).catch(() => {});
  feed = new Feed({
    url: config.ws,
    token: () => token.get(),
    onMessage: receive,
    onStatus: (status, info) => {
      conn(status, info);
      if (status === "live") { refresh(); sync(); }
      // A refused handshake looks like a network failure to a browser: ask the API.
      if (status === "down" && info.attempt % 3 === 2) refresh();
    },
    onSignedOut: revoked,
  });
  feed.start();
  refresh();
  stopWatching = watch({
    onFix: async (fix) => {
      state.fix = fix;
      await outbox.queueFix(fix);
      state.queuedFixes = await outbox.pendingFixes();
      draw();
    },
    onState: (gps) => { if (gps !== state.gps) { state.gps = gps; draw(); } },
  });
  setInterval(() => { if (token.get()) sync(); }, FLUSH_EVERY_MS);
  sync();
}

wire();
start();
