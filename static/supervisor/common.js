/* Shared by the supervisors' pages: configuration, the REST API with the session, formatting.
   Words go through Django's JavaScript catalogue (/jsi18n/, loaded first) and the names of
   codes (statuses, services, incident types) come from the page's texts table (texts.js). */
"use strict";

const SV = (() => {
  const config = JSON.parse(document.getElementById("page-config").textContent);
  const _ = window.gettext || ((s) => s);
  const fmt = (text, values) => (window.interpolate ? window.interpolate(text, values, true) : text);
  const lang = document.documentElement.lang || "ru";
  /* The name of a code in the page's language: label("status", "dispatched"). */
  const label = (name, code) => (code ? DispatchTexts.label(name, code) : "");

  class ApiError extends Error {
    constructor(status, body) {
      super(ApiError.describe(status, body));
      this.status = status;
      this.body = body;
    }
    static describe(status, body) {
      if (body && typeof body === "object") {
        if (body.detail) return body.detail;
        return Object.entries(body).map(([field, errors]) => `${field}: ${[].concat(errors).join(" ")}`).join("; ");
      }
      return `HTTP ${status}`;
    }
  }

  /* GET or POST/PATCH on /api/v1/ with the browser's session. DRF's SessionAuthentication
     checks the CSRF token on unsafe methods only. */
  async function api(path, { method = "GET", params, body } = {}) {
    const url = new URL(path.startsWith("http") || path.startsWith("/") ? path : config.api + path, location.origin);
    for (const [key, value] of Object.entries(params || {})) {
      if (value !== "" && value !== null && value !== undefined) url.searchParams.set(key, value);
    }
    const headers = { Accept: "application/json" };
    if (method !== "GET") {
      headers["X-CSRFToken"] = config.csrfToken;
      if (body !== undefined) headers["Content-Type"] = "application/json";
    }
    const response = await fetch(url, {
      method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = response.headers.get("Content-Type")?.includes("json") ? await response.json() : null;
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  /* Every item of a paginated list (follows `next`). */
  async function all(path, params) {
    let page = await api(path, { params });
    const items = [...page.results];
    while (page.next) {
      page = await api(page.next);
      items.push(...page.results);
    }
    return items;
  }

  const timeFormat = new Intl.DateTimeFormat(lang, {
    timeZone: config.timeZone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });

  function when(iso) {
    return iso ? timeFormat.format(new Date(iso)) : "";
  }

  function seconds(value) {
    if (value === null || value === undefined) return "–";
    if (value < 120) return fmt(_("%(n)s s"), { n: Math.round(value) });
    const m = Math.floor(value / 60), s = Math.round(value % 60);
    return m < 60 ? fmt(_("%(m)s min %(s)s s"), { m, s }) : fmt(_("%(h)s h %(m)s min"), { h: Math.floor(m / 60), m: m % 60 });
  }

  function between(startIso, endIso) {
    return startIso && endIso ? (new Date(endIso) - new Date(startIso)) / 1000 : null;
  }

  /* A table row from plain values (text only: nothing is parsed as HTML). A value may be a
     Node, e.g. a link built with el(). */
  function row(cells) {
    const tr = document.createElement("tr");
    for (const cell of cells) {
      const td = document.createElement("td");
      if (cell instanceof Node) td.append(cell); else td.textContent = cell ?? "";
      tr.append(td);
    }
    return tr;
  }

  function el(tag, attrs = {}, text = "") {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    node.textContent = text;
    return node;
  }

  function status(message, isError = false) {
    const node = document.getElementById("status");
    if (!node) return;
    node.textContent = message;
    node.classList.toggle("sv-error", isError);
  }

  /* <input type="datetime-local"> holds the browser's local time without an offset; the API
     wants ISO-8601 with one. */
  function localInputToIso(value) {
    return value ? new Date(value).toISOString() : "";
  }

  function isoToLocalInput(date) {
    const d = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
    return d.toISOString().slice(0, 16);
  }

  function map(elementId) {
    DispatchTexts.leafletWords();  // Leaflet's buttons in the page's language
    const m = L.map(elementId).setView(config.centre, 12);
    // MAP_TILE_URL's tiles, or the app's own streets when it is empty or fails (static/map/basemap.js).
    DispatchBasemap.attach(m, config.tiles, config.basemap);
    return m;
  }

  return { config, api, all, ApiError, when, seconds, between, row, el, status, localInputToIso, isoToLocalInput, map,
           _, fmt, lang, label };
})();
