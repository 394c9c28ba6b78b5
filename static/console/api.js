// Talks to the server: the REST API (session cookie + CSRF header) and the live feed.
// Nothing here knows about the page; main.js and the views wire the answers into state.js
// and the DOM.

const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.describe(status, body));
    this.status = status;
    this.body = body;
  }

  // DRF errors: {"detail": "..."} or {"field": ["msg", ...], ...}.
  static describe(status, body) {
    if (body && typeof body === "object") {
      if (body.detail) return String(body.detail);
      const parts = [];
      for (const [field, value] of Object.entries(body)) {
        const text = Array.isArray(value) ? value.map((v) => (typeof v === "object" ? JSON.stringify(v) : v)).join(" ") : JSON.stringify(value);
        parts.push(field === "non_field_errors" ? text : `${field}: ${text}`);
      }
      if (parts.length) return parts.join("; ");
    }
    return `HTTP ${status}`;
  }
}

export class Api {
  // `statuses`: the server's status lists from the page config (which calls are open,
  // which units free to take one).
  constructor({ csrfToken, onUnauthorized, statuses }) {
    this.csrfToken = csrfToken;
    this.openCallStatuses = statuses.call.open.join(",");
    this.freeUnitStatuses = statuses.unit.free.join(",");
    this.onUnauthorized = onUnauthorized || (() => {});
  }

  async request(method, path, body) {
    // Paths are relative to /api/v1 unless absolute (pagination's `next` links are).
    const url = /^(https?:|\/api\/)/.test(path) ? path : API + path;
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (method !== "GET") init.headers["X-CSRFToken"] = this.csrfToken;
    const response = await fetch(url, init);
    let data = null;
    const text = await response.text();
    if (text) {
      try { data = JSON.parse(text); } catch { data = { detail: text.slice(0, 200) }; }
    }
    if (response.status === 401 || (response.status === 403 && method === "GET")) this.onUnauthorized(response.status);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  get(path) { return this.request("GET", path); }
  post(path, body = {}) { return this.request("POST", path, body); }
  patch(path, body) { return this.request("PATCH", path, body); }

  // Every page of a paginated list (cursor or page-number pagination alike).
  async all(path) {
    const out = [];
    let next = path;
    while (next) {
      const page = await this.get(next);
      out.push(...page.results);
      next = page.next;
    }
    return out;
  }

  // --- the state an operator needs, read in full (start-up and resync) ---
  openCalls() { return this.all(`/calls/?status=${this.openCallStatuses}&page_size=200`); }
  units() { return this.all("/units/"); }
  incidentTypes() { return this.get("/incident-types/"); }

  call(id) { return this.get(`/calls/${id}/`); }
  findCalls(q) { return this.get(`/calls/?q=${encodeURIComponent(q)}&page_size=10`); }
  timeline(id) { return this.get(`/calls/${id}/timeline/`); }
  nearUnits(lat, lon, metres) {
    return this.get(`/units/?status=${this.freeUnitStatuses}&near=${lat.toFixed(6)},${lon.toFixed(6)},${metres}`);
  }
  route(from, to) {
    return this.get(`/route/?from=${from.lat.toFixed(6)},${from.lon.toFixed(6)}&to=${to.lat.toFixed(6)},${to.lon.toFixed(6)}`);
  }
  // bbox: the map view "minlon,minlat,maxlon,maxlat" (Leaflet's toBBoxString()); among places the text fits
  // equally, the server puts those in view first.
  geocode(q, limit = 8, bbox = "") {
    return this.get(`/geocode/?q=${encodeURIComponent(q)}&limit=${limit}${bbox ? `&bbox=${bbox}` : ""}`);
  }
  reverseGeocode(lat, lon) { return this.get(`/geocode/reverse/?lat=${lat.toFixed(6)}&lon=${lon.toFixed(6)}`); }

  createCall(body) { return this.post("/calls/", body); }
  updateCall(id, body) { return this.patch(`/calls/${id}/`, body); }
  assign(id, unitId) { return this.post(`/calls/${id}/assign/`, { unit: unitId }); }
  release(id) { return this.post(`/calls/${id}/dispatch/`); }
  merge(id, into) { return this.post(`/calls/${id}/merge/`, { into }); }
  addNote(id, text) { return this.post(`/calls/${id}/notes/`, { text }); }
  close(id, disposition, notes) { return this.post(`/calls/${id}/close/`, { disposition, notes }); }
  cancel(id, reason) { return this.post(`/calls/${id}/cancel/`, { reason }); }
  cancelAssignment(id, reason) { return this.post(`/assignments/${id}/cancel/`, { reason }); }
}

// The live feed: one websocket, reopened after a drop with the last event id seen, so the
// server replays what was missed. `cursor()` is asked at every (re)connect; the first
// connect has no cursor and asks the server where the live edge is (ping → pong.last_id).
export class Feed {
  constructor({ cursor, onMessage, onStatus, path = "/ws/events/" }) {
    this.cursor = cursor;
    this.onMessage = onMessage;
    this.onStatus = onStatus || (() => {});
    this.path = path;
    this.attempt = 0;
    this.socket = null;
    this.timer = null;
    this.stopped = false;
  }

  url() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const since = this.cursor();
    const query = since === null || since === undefined ? "" : `?since=${since}`;
    return `${scheme}://${window.location.host}${this.path}${query}`;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close();
  }

  open() {
    clearTimeout(this.timer);
    this.onStatus(this.attempt ? "reconnecting" : "connecting", { attempt: this.attempt });
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.onStatus("live", {});
      socket.send(JSON.stringify({ type: "ping" }));
    };
    socket.onmessage = (message) => {
      let data;
      try { data = JSON.parse(message.data); } catch { return; }
      this.onMessage(data);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      this.attempt += 1;
      // A server shutting down gracefully (1012 service restart, 1001 going away) has
      // peers that are up: reconnect at once, spread over 200 ms so a restart's consoles
      // don't arrive together. Otherwise 0.5 s, 1 s, 2 s, then every 4 s: a restarted
      // server is back within seconds, and hammering a struggling one helps nobody.
      const restart = (event.code === 1012 || event.code === 1001) && this.attempt === 1;
      const delay = restart ? Math.random() * 200 : Math.min(4000, 500 * 2 ** Math.min(this.attempt - 1, 3));
      this.onStatus("down", { attempt: this.attempt, code: event.code, retryIn: delay });
      this.timer = setTimeout(() => this.open(), delay);
    };
    socket.onerror = () => {};  // onclose follows and schedules the retry
  }
}
