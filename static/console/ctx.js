// What every part of the console shares: the page config (dispatch/console.py, handed over
// with json_script), the server, the state, and what the operator is looking at.

import { Api } from "./api.js";
import { failed, toast } from "./dom.js";
import { ConsoleState } from "./state.js";
import { _, fmt } from "./words.js";

export const cfg = JSON.parse(document.getElementById("console-config").textContent);

export const api = new Api({
  csrfToken: cfg.csrfToken,
  statuses: cfg.statuses,
  onUnauthorized: () => { window.location.href = `/accounts/login/?next=${encodeURIComponent(window.location.pathname)}`; },
});
export const state = new ConsoleState({ statuses: cfg.statuses });

// The open call (null for none) and the panel beside the queue ("call" or "units").
export const view = { selectedId: null, tab: "call" };

// Units by the server's groups (status_config): free is what the engine dispatches, busy is
// working an assignment; every other status (out of service, transporting, …) stands alone.
const freeUnit = new Set(cfg.statuses.unit.free);
const busyUnit = new Set(cfg.statuses.unit.busy);
export const isFree = (unit) => freeUnit.has(unit.status);
export const isBusy = (unit) => busyUnit.has(unit.status);

export const isStale = (unit) => !unit.location || !unit.location.recorded_at
  || (Date.now() - Date.parse(unit.location.recorded_at)) / 1000 > cfg.staleAfterS;

// One operator action: the server's answer (a call) goes into the state, then a toast.
export async function act(promise, message) {
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

export async function assign(call, unit) {
  await act(api.assign(call.id, unit.id), fmt(_("%(unit)s assigned to %(ref)s"), { unit: unit.callsign, ref: call.reference }));
}
