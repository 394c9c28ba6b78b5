/* Statistics for a period: GET /stats/ and Chart.js charts (vendored, static/vendor/chartjs/). */
"use strict";

(() => {
  const form = document.getElementById("period");
  const charts = {};
  const { _, fmt, label } = SV;
  const LABELS = {
    received_to_dispatch: _("Received → first dispatch"),
    dispatch_to_acknowledgement: _("Dispatch → acknowledgement"),
    acknowledgement_to_on_scene: _("Acknowledgement → on scene"),
    received_to_on_scene: _("Received → first on scene"),
  };
  const num = (v) => (v === null || v === undefined ? "–" : (Math.round(v * 10) / 10).toString());
  const pair = (iv) => `${num(iv.p50)} / ${num(iv.p90)}`;
  const percent = (share) => (share === null ? "–" : `${(share * 100).toFixed(1)} %`);

  function chart(id, config) {
    charts[id]?.destroy();
    // No animation: figures should read at once (and screenshots show the real values).
    charts[id] = new Chart(document.getElementById(id), {
      ...config, options: { responsive: true, aspectRatio: 2, animation: false, ...config.options },
    });
  }

  function render(stats) {
    document.getElementById("calls").textContent = stats.calls;
    const t = stats.target;
    document.getElementById("target-s").textContent = t.target_s;
    document.getElementById("target-share").textContent = percent(t.share);
    document.getElementById("target-verdict").textContent = t.met === null ? _("no dispatched call")
      : fmt(t.met ? _("%(within)s of %(calls)s dispatched calls; target %(target)s — met")
        : _("%(within)s of %(calls)s dispatched calls; target %(target)s — missed"),
      { within: t.within, calls: t.calls, target: percent(t.target_share) });
    document.getElementById("target-card").classList.toggle("sv-bad", t.met === false);

    document.querySelector("#intervals tbody").replaceChildren(...Object.entries(stats.intervals).map(
      ([name, iv]) => SV.row([LABELS[name] || name, iv.n, num(iv.p50), num(iv.p90), num(iv.p95)])));
    document.querySelector("#services tbody").replaceChildren(...stats.by_service.map((s) => SV.row([
      label("service", s.service), s.calls, s.with_unit, pair(s.intervals.received_to_dispatch),
      pair(s.intervals.dispatch_to_acknowledgement), pair(s.intervals.acknowledgement_to_on_scene),
      pair(s.intervals.received_to_on_scene), percent(s.target.share),
    ])));

    chart("chart-hours", {
      type: "bar",  // a mixed chart needs a base type, or the per-axis binding is lost
      data: {
        labels: stats.by_hour.map((h) => `${String(h.hour).padStart(2, "0")}:00`),
        datasets: [
          { type: "bar", label: _("Calls"), data: stats.by_hour.map((h) => h.calls), yAxisID: "calls" },
          { type: "line", label: _("Dispatch p90 (s)"), data: stats.by_hour.map((h) => h.received_to_dispatch.p90),
            yAxisID: "seconds", spanGaps: true },
          { type: "line", label: fmt(_("Target (%(n)s s)"), { n: t.target_s }), data: stats.by_hour.map(() => t.target_s),
            yAxisID: "seconds", borderDash: [6, 4], pointRadius: 0 },
        ],
      },
      options: { scales: {
        calls: { type: "linear", position: "left", beginAtZero: true, ticks: { precision: 0 },
                 title: { display: true, text: _("calls") } },
        seconds: { type: "linear", position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
                   title: { display: true, text: _("seconds") } },
      } },
    });
    const services = stats.by_service.map((s) => label("service", s.service));
    const pick = (name, p) => stats.by_service.map((s) => s.intervals[name][p]);
    chart("chart-services", {
      type: "bar",
      data: { labels: services, datasets: [
        { label: _("Dispatch p50"), data: pick("received_to_dispatch", "p50") },
        { label: _("Dispatch p90"), data: pick("received_to_dispatch", "p90") },
        { label: _("On scene p50"), data: pick("received_to_on_scene", "p50") },
        { label: _("On scene p90"), data: pick("received_to_on_scene", "p90") },
      ] },
      options: { scales: { y: { beginAtZero: true } } },
    });
    const types = Object.entries(stats.counts.incident_type);
    chart("chart-types", {
      type: "bar",
      data: { labels: types.map(([k]) => label("incident_type", k)), datasets: [{ label: _("Calls"), data: types.map(([, v]) => v) }] },
      options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { ticks: { precision: 0 } } } },
    });
    const outcome = Object.entries(stats.counts.disposition);
    chart("chart-outcome", {
      type: "doughnut",
      data: { labels: outcome.map(([k]) => (k === "none" ? _("open") : label("disposition", k))), datasets: [{ data: outcome.map(([, v]) => v) }] },
    });
  }

  async function load() {
    const data = new FormData(form);
    SV.status(_("Loading…"));
    try {
      const stats = await SV.api("stats/", { params: {
        received_after: SV.localInputToIso(data.get("received_after")),
        received_before: SV.localInputToIso(data.get("received_before")),
      } });
      render(stats);
      SV.status(`${SV.when(stats.period.received_after)} — ${SV.when(stats.period.received_before)}`);
    } catch (error) {
      SV.status(error.message, true);
    }
  }

  function lastDays(days) {
    const now = new Date();
    form.received_before.value = SV.isoToLocalInput(now);
    form.received_after.value = SV.isoToLocalInput(new Date(now.getTime() - days * 86400e3));
    load();
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  for (const button of form.querySelectorAll("[data-days]")) {
    button.addEventListener("click", () => lastDays(Number(button.dataset.days)));
  }
  lastDays(7);
})();
