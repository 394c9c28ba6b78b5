/* Call history: filters → GET /calls/ (keyset pages), the export link carries the same filters. */
"use strict";

(() => {
  const form = document.getElementById("filters");
  const tbody = document.querySelector("#calls tbody");
  const exportLink = document.getElementById("export");
  const prev = document.getElementById("prev"), next = document.getElementById("next");
  const map = SV.map("map");
  const markers = L.layerGroup().addTo(map);
  let pages = { next: null, previous: null };

  function filters() {
    const data = new FormData(form);
    const params = {};
    for (const name of ["q", "status", "priority", "incident_type", "service", "unit", "operator"]) {
      params[name] = (data.get(name) || "").trim();
    }
    params.received_after = SV.localInputToIso(data.get("received_after"));
    params.received_before = SV.localInputToIso(data.get("received_before"));
    if (data.get("use_bbox")) {
      const b = map.getBounds();
      params.bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(",");
    }
    return params;
  }

  function render(page) {
    tbody.replaceChildren();
    markers.clearLayers();
    for (const call of page.results) {
      const link = SV.el("a", { href: `/supervisor/calls/${call.id}/` }, call.reference);
      const units = [...new Set(call.assignments.map((a) => a.unit.callsign))].join(", ");
      tbody.append(SV.row([
        link, SV.when(call.received_at), SV.label("incident_type", call.incident_type), call.priority,
        SV.label("status", call.status), call.address,
        SV.seconds(SV.between(call.received_at, call.dispatched_at)),
        SV.seconds(SV.between(call.received_at, call.on_scene_at)), units, SV.label("disposition", call.disposition),
      ]));
      if (call.location) {
        L.circleMarker([call.location.lat, call.location.lon], { radius: 5 })
          .bindTooltip(`${call.reference} · ${SV.label("incident_type", call.incident_type)}`).addTo(markers);
      }
    }
    pages = { next: page.next, previous: page.previous };
    next.disabled = !page.next;
    prev.disabled = !page.previous;
    SV.status(page.results.length ? "" : SV._("No call matches these filters."));
  }

  async function load(url, params) {
    SV.status(SV._("Loading…"));
    try {
      render(await SV.api(url, { params }));
    } catch (error) {
      SV.status(error.message, true);
    }
  }

  function search() {
    const params = filters();
    const exportUrl = new URL("/api/v1/calls/export.csv", location.origin);
    for (const [key, value] of Object.entries(params)) if (value) exportUrl.searchParams.set(key, value);
    exportLink.href = exportUrl.pathname + exportUrl.search;
    load("calls/", params);
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); search(); });
  form.addEventListener("reset", () => setTimeout(search));
  next.addEventListener("click", () => pages.next && load(pages.next));
  prev.addEventListener("click", () => pages.previous && load(pages.previous));
  map.on("moveend", () => { if (document.getElementById("use-bbox").checked) search(); });

  async function fillChoices() {
    try {
      const [types, units] = await Promise.all([SV.api("incident-types/"), SV.all("units/")]);
      const typeSelect = document.getElementById("incident-types");
      for (const t of types) typeSelect.append(SV.el("option", { value: t.code }, t[`name_${SV.lang}`] || t.name_en));
      const unitSelect = document.getElementById("units");
      for (const u of units) unitSelect.append(SV.el("option", { value: u.id }, `${u.callsign} (${SV.label("service", u.service)})`));
    } catch (error) {
      SV.status(error.message, true);
    }
  }

  fillChoices();
  search();
})();
