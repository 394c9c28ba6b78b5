// What the phone could not send yet, kept in IndexedDB so it survives a dead network, a
// closed tab and a restarted phone: position fixes (sent in batches through
// POST /me/location/, each with its own recorded_at, so the unit's track has no hole) and
// the crew's actions (replayed in the order they were taken; the API treats a repeat as a
// no-op, so an action whose answer was lost may safely go twice).

import { ApiError, Offline, post } from "./api.js";

const DB = "crew";
const FIXES = "fixes";
const ACTIONS = "actions";
const BATCH = 500;  // the API takes up to 1,000 fixes a request

let opening = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => {
        req.result.createObjectStore(FIXES, { autoIncrement: true });
        req.result.createObjectStore(ACTIONS, { autoIncrement: true });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => { opening = null; reject(req.error); };
    });
  }
  return opening;
}

async function tx(store, mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(store, mode);
    const result = fn(t.objectStore(store));
    t.oncomplete = () => resolve(result && "result" in result ? result.result : result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

const add = (store, item) => tx(store, "readwrite", (s) => s.add(item));
const remove = (store, keys) => tx(store, "readwrite", (s) => keys.forEach((k) => s.delete(k)));

async function firstN(store, limit) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const items = [];
    const req = db.transaction(store).objectStore(store).openCursor();
    req.onsuccess = () => {
      const cursor = req.result;
      if (!cursor || items.length >= limit) { resolve(items); return; }
      items.push({ key: cursor.key, value: cursor.value });
      cursor.continue();
    };
    req.onerror = () => reject(req.error);
  });
}

export const count = (store) => tx(store, "readonly", (s) => s.count());
export const pendingFixes = () => count(FIXES);
export const pendingActions = async () => (await firstN(ACTIONS, 1000)).map((item) => item.value);

export const queueFix = (fix) => add(FIXES, fix);
export const queueAction = (action) => add(ACTIONS, { ...action, queued_at: new Date().toISOString() });

let flushing = null;

/* Send what waits, actions first (in order), then fixes in batches. Resolves to a summary;
   stops at the first network failure (the rest waits for the next try). `onRejected` hears
   of an action the server refused for good (409: the call moved on; 404: not ours any more).
   One run at a time; a call during a run waits for it and then runs again, so an action
   queued meanwhile is not left for the next timer. */
export async function flush({ onRejected = () => {}, onSignedOut = () => {} } = {}) {
  while (flushing) await flushing.catch(() => {});
  flushing = run(onRejected, onSignedOut).finally(() => { flushing = null; });
  return flushing;
}

async function run(onRejected, onSignedOut) {
  const sent = { actions: 0, fixes: 0, offline: false };
  try {
    for (const { key, value } of await firstN(ACTIONS, 1000)) {
      try {
        await post(value.path, value.body);
        sent.actions += 1;
      } catch (error) {
        if (error instanceof ApiError && error.signedOut) { onSignedOut(error); return sent; }
        if (!(error instanceof ApiError) || !error.final) throw error;
        onRejected(value, error);
      }
      await remove(ACTIONS, [key]);
    }
    for (;;) {
      const batch = await firstN(FIXES, BATCH);
      if (!batch.length) break;
      try {
        await post("me/location/", batch.map((item) => item.value));
        sent.fixes += batch.length;
      } catch (error) {
        if (error instanceof ApiError && error.signedOut) { onSignedOut(error); return sent; }
        if (!(error instanceof ApiError) || !error.final) throw error;
        // A batch the server can never take (a fix from a clock far in the future): drop
        // it, or it would hold every later fix back forever.
        console.warn("position batch refused", error.message);
      }
      await remove(FIXES, batch.map((item) => item.key));
    }
  } catch (error) {
    if (!(error instanceof Offline || error instanceof ApiError)) throw error;
    sent.offline = true;
  }
  return sent;
}

export async function clearAll() {
  await tx(FIXES, "readwrite", (s) => s.clear());
  await tx(ACTIONS, "readwrite", (s) => s.clear());
}
