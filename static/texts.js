/* Texts stored as a code with parameters (core/texts.py), shown in the page's language.
   The page carries the templates and the names of the codes in its language as JSON
   (<script id="texts">, from core.texts.page_table); this renders one the way the server's
   core.texts.render does. A row without a code, or one this page cannot render (a code
   from a newer server, a missing parameter), shows its stored text. */
"use strict";

window.DispatchTexts = (() => {
  const node = document.getElementById("texts");
  const table = node ? JSON.parse(node.textContent) : { messages: {}, labels: {}, units: {} };
  const MEASURES = { distance_m: metres, route_m: metres, accuracy_m: metres, eta_s: duration,
                     capability: (value) => String(value).toUpperCase() };

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, (_all, name) => String(values[name]));
  }

  function metres(value) {
    const m = Number(value);
    return m < 1000 ? fill(table.units.m, { n: Math.round(m) }) : fill(table.units.km, { n: (m / 1000).toFixed(1).replace(".", table.units.decimal || ".") });
  }

  function duration(value) {
    const s = Math.round(Number(value));
    if (s < 60) return fill(table.units.s, { n: s });
    return fill(table.units.min_s, { m: Math.floor(s / 60), s: String(s % 60).padStart(2, "0") });
  }

  function show(name, value) {
    if (value && typeof value === "object" && !Array.isArray(value) && value.code) return render(value.code, value.params, "");
    if (value === null || value === undefined) return "–";
    if (Array.isArray(value)) return value.map((item) => show(name, item)).join(", ");
    const labels = table.labels[name];
    if (labels) return labels[value] ?? value;
    return MEASURES[name] ? MEASURES[name](value) : value;
  }

  function render(code, params, fallback = "") {
    const template = code ? table.messages[code] : undefined;
    if (template === undefined) return fallback;
    const values = {};
    for (const [name, value] of Object.entries(params || {})) values[name] = show(name, value);
    const names = [...template.matchAll(/%\((\w+)\)s/g)].map((m) => m[1]);
    if (names.some((name) => !(name in values))) return fallback;
    return fill(template, values);
  }

  /* An assignment's reason or end reason: its code if it has one, else the stored text. */
  const reason = (a) => render(a.reason_code, a.reason_params, a.reason || "");
  const endReason = (a) => render(a.end_reason_code, a.end_reason_params, a.end_reason || "");
  const label = (name, code) => (table.labels[name] && table.labels[name][code]) || code;

  /* Leaflet's own words (the zoom buttons, a marker's alt text, the tooltip of its credit)
     in the page's language: called before a page makes its first map. */
  function leafletWords() {
    if (!window.L || leafletWords.done) return;
    leafletWords.done = true;
    const _ = window.gettext || ((s) => s);
    L.Control.Zoom.prototype.options.zoomInTitle = _("Zoom in");
    L.Control.Zoom.prototype.options.zoomOutTitle = _("Zoom out");
    L.Marker.prototype.options.alt = _("Marker");
    const credit = document.createElement("a");
    credit.href = "https://leafletjs.com";
    credit.title = _("A JavaScript library for interactive maps");
    credit.textContent = "Leaflet";
    L.Control.Attribution.prototype.options.prefix = credit.outerHTML;
  }

  return { render, reason, endReason, label, table, leafletWords };
})();
