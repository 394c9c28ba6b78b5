/* One call: facts, its units, the journal as a timeline, and a map of the call and the
   units' tracks (GET /units/{id}/track/ over the time each unit was on the call). */
"use strict";

(() => {
  const { _, fmt, label } = SV;
  const callId = SV.config.callId;
  const map = SV.map("map");
  const COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

  function facts(call) {
    const dl = document.getElementById("facts");
    const items = [
      [_("Status"), label("status", call.status) + (call.disposition ? ` (${label("disposition", call.disposition)})` : "")],
      [_("Type / priority"), `${label("incident_type", call.incident_type)} · P${call.priority}`],
      [_("Caller"), [call.caller_phone, call.caller_name].filter(Boolean).join(" · ") || "–"],
      [_("Channel"), label("channel", call.channel)],
      [_("Address"), call.address || "–"],
      [_("Location"), call.location
        ? `${call.location.lat.toFixed(5)}, ${call.location.lon.toFixed(5)} ± ${fmt(_("%(n)s m"), { n: call.location.accuracy_m ?? "?" })} (${label("location_source", call.location.source)})`
        : _("not located")],
      [_("Received"), SV.when(call.received_at)],
      [_("Dispatched"), `${SV.when(call.dispatched_at)} (${SV.seconds(SV.between(call.received_at, call.dispatched_at))})`],
      [_("On scene"), `${SV.when(call.on_scene_at)} (${SV.seconds(SV.between(call.received_at, call.on_scene_at))})`],
      [_("Closed"), SV.when(call.closed_at) || "–"],
      [_("Description"), call.description || "–"],
    ];
    if (call.merged_into) items.push([_("Merged into"), fmt(_("call #%(id)s"), { id: call.merged_into })]);
    dl.replaceChildren(...items.flatMap(([k, v]) => [SV.el("dt", {}, k), SV.el("dd", {}, v)]));
  }

  function assignments(call) {
    const tbody = document.querySelector("#assignments tbody");
    tbody.replaceChildren(...call.assignments.map((a) => SV.row([
      a.unit.callsign, label("service", a.unit.service), label("status", a.status),
      a.distance_m === null ? "" : fmt(_("%(n)s m"), { n: Math.round(a.distance_m) }),
      SV.when(a.assigned_at),
      a.acknowledged_at ? `${SV.when(a.acknowledged_at)} (+${SV.seconds(SV.between(a.assigned_at, a.acknowledged_at))})` : "",
      a.on_scene_at ? `${SV.when(a.on_scene_at)} (+${SV.seconds(SV.between(a.assigned_at, a.on_scene_at))})` : "",
      // Why it ended, else why it was chosen: in the reader's language when stored as a code.
      SV.when(a.ended_at), DispatchTexts.endReason(a) || DispatchTexts.reason(a),
    ])));
  }

  function timeline(call, events) {
    const tbody = document.querySelector("#timeline tbody");
    tbody.replaceChildren(...events.map((e) => SV.row([
      SV.when(e.at), SV.seconds(SV.between(call.received_at, e.at)), label("event", e.type),
      DispatchTexts.render(e.summary_code, e.summary_params, e.summary), e.actor || _("system"),
    ])));
  }

  async function drawMap(call) {
    const bounds = [];
    if (call.location) {
      const here = [call.location.lat, call.location.lon];
      L.marker(here).bindTooltip(call.reference).addTo(map);
      if (call.location.accuracy_m) {
        L.circle(here, { radius: call.location.accuracy_m, color: "#d62728", weight: 1, fillOpacity: 0.1 }).addTo(map);
      }
      bounds.push(here);
    }
    const legend = document.getElementById("legend");
    const byUnit = new Map();
    for (const a of call.assignments) {
      const span = byUnit.get(a.unit.id) || { unit: a.unit, from: a.assigned_at, to: null };
      span.from = span.from < a.assigned_at ? span.from : a.assigned_at;
      const end = a.ended_at || new Date().toISOString();
      span.to = span.to && span.to > end ? span.to : end;
      byUnit.set(a.unit.id, span);
    }
    let i = 0;
    for (const span of byUnit.values()) {
      const colour = COLOURS[i++ % COLOURS.length];
      // A track window is at most 24 h: show the start of a longer one.
      const from = new Date(span.from), to = new Date(Math.min(new Date(span.to), from.getTime() + 24 * 3600e3));
      try {
        const track = await SV.api(`units/${span.unit.id}/track/`, {
          params: { from: new Date(from.getTime() - 60e3).toISOString(), to: to.toISOString() },
        });
        const line = track.points.map((p) => [p.lat, p.lon]);
        if (line.length) {
          L.polyline(line, { color: colour, weight: 3 }).bindTooltip(span.unit.callsign).addTo(map);
          L.circleMarker(line[line.length - 1], { radius: 5, color: colour }).addTo(map);
          bounds.push(...line);
        }
        legend.append(SV.el("li", { style: `color:${colour}` },
          `${span.unit.callsign}: ${fmt(_("%(n)s fixes"), { n: track.points.length })}${track.truncated ? ` (${_("truncated")})` : ""}`));
      } catch (error) {
        legend.append(SV.el("li", {}, `${span.unit.callsign}: ${error.message}`));
      }
    }
    if (bounds.length) map.fitBounds(bounds, { padding: [20, 20], maxZoom: 16 });
  }

  async function load() {
    SV.status(_("Loading…"));
    try {
      const [call, events] = await Promise.all([SV.api(`calls/${callId}/`), SV.api(`calls/${callId}/timeline/`)]);
      facts(call);
      assignments(call);
      timeline(call, events);
      SV.status("");
      await drawMap(call);
    } catch (error) {
      SV.status(error.message, true);
    }
  }

  load();
})();
