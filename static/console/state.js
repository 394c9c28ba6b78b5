// The page's state and the one place where feed events are applied to it.
//
// Start-up (and a server's `resync`) follows the usual subscribe-then-snapshot order:
// the socket is opened first and asked where the live edge is (pong.last_id), then the
// open calls and the fleet are read over REST, and events that arrived meanwhile are
// applied on top, in order. Every event carries the object's whole representation, so
// applying one that the snapshot already contains changes nothing for long.
// Events are applied once: an id at or below the last one applied is dropped, which is
// what makes a reconnect with ?since=lastId catch up without double entries.
//
// Which calls are open and which assignments active is the server's word: `statuses` is
// the page config's (dispatch/console.py, status_config), never a list of our own.

export const ALERT_KINDS = ["no_unit_available", "ack_timeout", "possible_duplicate", "no_location"];
const MAX_ALERTS = 200;

export class ConsoleState {
  constructor({ statuses }) {
    this.openCall = new Set(statuses.call.open);
    this.activeAssignment = new Set(statuses.assignment.active);
    this.calls = new Map();   // id → call (open calls, and any other the operator opened)
    this.units = new Map();   // id → unit
    this.alerts = [];         // alert.raised events, newest last: {eventId, kind, call, at, data, dismissed}
    this.lastId = null;       // last event id applied; null until the live edge is known
    this.ready = false;       // false while a snapshot is being read: events wait in `queued`
    this.queued = [];
    this.listeners = new Set();
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(change) {
    for (const fn of this.listeners) fn(change);
  }

  // --- the feed -------------------------------------------------------------------------------

  // One message from the socket. Returns "snapshot" when the caller must (re)read state.
  receive(message) {
    if (message.type === "pong") {
      if (this.lastId === null) {
        // First contact: everything up to the edge will be in the snapshot read next.
        this.lastId = message.last_id;
        this.queued = [];
        return "snapshot";
      }
      return null;
    }
    if (message.type === "resync") {
      // Too far behind to replay: the snapshot replaces state, the feed goes on from last_id.
      this.ready = false;
      this.lastId = message.last_id;
      this.queued = [];
      return "snapshot";
    }
    if (typeof message.id !== "number") return null;
    if (!this.ready || this.lastId === null) {
      this.queued.push(message);
      return null;
    }
    this.apply(message, { live: true });
    return null;
  }

  // Apply one journal event. False when it was already applied (or is of no interest).
  apply(event, { live = false } = {}) {
    if (this.lastId !== null && event.id <= this.lastId) return false;
    this.lastId = event.id;
    const data = event.data || {};
    const change = { calls: new Set(), units: new Set(), alerts: false, live, event };
    switch (event.type) {
      case "call.created":
      case "call.updated":
        this._putCall(data);
        change.calls.add(data.id);
        break;
      case "assignment.created":
      case "assignment.updated": {
        const call = this.calls.get(data.call);
        if (call) {
          const list = call.assignments || (call.assignments = []);
          const at = list.findIndex((a) => a.id === data.id);
          if (at >= 0) list[at] = data; else list.push(data);
          change.calls.add(call.id);
        }
        break;
      }
      case "unit.updated":
        this.units.set(data.id, data);
        change.units.add(data.id);
        break;
      case "alert.raised":
        this.alerts.push({ eventId: event.id, kind: data.kind, call: data.call, at: event.at, data, dismissed: false });
        if (this.alerts.length > MAX_ALERTS) this.alerts.splice(0, this.alerts.length - MAX_ALERTS);
        change.alerts = true;
        change.alert = this.alerts[this.alerts.length - 1];
        if (data.call) change.calls.add(data.call);
        break;
      default:
        return true;
    }
    this.emit(change);
    return true;
  }

  _putCall(call) {
    const known = this.calls.get(call.id);
    // Closed calls leave the queue; one the operator is looking at stays readable.
    if (!this.isOpen(call) && !(known && known._pinned)) {
      this.calls.delete(call.id);
      return;
    }
    if (known && known._pinned) call._pinned = true;
    this.calls.set(call.id, call);
  }

  // --- snapshots (REST) -----------------------------------------------------------------------

  beginSnapshot() {
    this.ready = false;
  }

  finishSnapshot({ calls, units }) {
    const pinned = [...this.calls.values()].filter((c) => c._pinned);
    this.calls = new Map();
    for (const call of calls) this.calls.set(call.id, call);
    for (const call of pinned) if (!this.calls.has(call.id)) this.calls.set(call.id, call);
    this.units = new Map(units.map((u) => [u.id, u]));
    this.ready = true;
    const queued = this.queued;
    this.queued = [];
    this.emit({ calls: new Set(), units: new Set(), alerts: true, reset: true });
    for (const event of queued) this.apply(event, { live: true });
  }

  // A call read over REST (the answer to the operator's own action). The feed is the
  // authority: its events are applied in order, while a REST answer may be overtaken by
  // an event that arrived first, so it only fills in a call the feed has not brought yet.
  noteCall(call, { pin = false } = {}) {
    const known = this.calls.get(call.id);
    if (pin) call._pinned = true;
    if (!known) {
      this.calls.set(call.id, call);
      this.emit({ calls: new Set([call.id]), units: new Set(), alerts: false });
    } else if (pin) {
      known._pinned = true;
    }
    return this.calls.get(call.id);
  }

  unpin(id) {
    const call = this.calls.get(id);
    if (!call) return;
    delete call._pinned;
    if (!this.isOpen(call)) {
      this.calls.delete(id);
      this.emit({ calls: new Set([id]), units: new Set(), alerts: false });
    }
  }

  // --- reading --------------------------------------------------------------------------------

  // Open calls, most urgent first, then oldest first.
  queue() {
    return [...this.calls.values()]
      .filter((c) => this.isOpen(c))
      .sort((a, b) => a.priority - b.priority || Date.parse(a.received_at) - Date.parse(b.received_at) || a.id - b.id);
  }

  // Is the condition an alert reported still true? Alerts of calls no longer open lapse.
  alertHolds(alert) {
    const call = this.calls.get(alert.call);
    if (!call || !this.isOpen(call)) return false;
    switch (alert.kind) {
      case "no_unit_available": return (call.unmet_needs || []).length > 0 && !call.hold_reason && !!call.location;
      case "no_location": return !call.location;
      case "possible_duplicate": return call.hold_reason === "possible_duplicate";
      default: return true;  // ack_timeout and unknown kinds: until the operator dismisses them
    }
  }

  activeAlerts() {
    const seen = new Set();
    const out = [];
    for (let i = this.alerts.length - 1; i >= 0; i -= 1) {
      const alert = this.alerts[i];
      const key = `${alert.kind}:${alert.call}`;
      if (alert.dismissed || seen.has(key) || !this.alertHolds(alert)) continue;
      seen.add(key);
      out.push(alert);
    }
    return out;  // newest first, one per (kind, call)
  }

  dismissAlerts(predicate = () => true) {
    for (const alert of this.alerts) if (predicate(alert)) alert.dismissed = true;
    this.emit({ calls: new Set(), units: new Set(), alerts: true });
  }

  // What is wrong with a call, read from the call itself (survives a reload), plus any
  // acknowledgement timeout still on the alert list.
  callFlags(call) {
    const flags = [];
    if (!call.location) flags.push("no_location");
    if (call.hold_reason) flags.push(call.hold_reason === "possible_duplicate" ? "possible_duplicate" : "hold");
    if ((call.unmet_needs || []).length && call.location && !call.hold_reason) flags.push("no_unit_available");
    if (this.alerts.some((a) => a.kind === "ack_timeout" && a.call === call.id && !a.dismissed)) flags.push("ack_timeout");
    return flags;
  }

  isOpen(call) {
    return this.openCall.has(call.status);
  }

  isActive(assignment) {
    return this.activeAssignment.has(assignment.status);
  }

  activeAssignments(call) {
    return (call.assignments || []).filter((a) => this.isActive(a));
  }
}
