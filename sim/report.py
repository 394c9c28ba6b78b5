"""report.json and a self-contained report.html (matplotlib, images inlined as base64).

Times come from the server's own records read back after the run (the history), in
simulated seconds: a wall-clock interval times --speed. The system's own share (call
stored -> assignment created) is also given in wall milliseconds, unscaled."""

import base64
import html
import io
import json
from datetime import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .model import SERVICES  # noqa: E402
from .runner import CALL_ENDED  # noqa: E402

COLOURS = {"police": "#1f4e9c", "medical": "#c0392b", "fire": "#e67e22", "utility": "#2e8b57"}
# NFPA 1225 (call processing: 90 % within 60 s) and NFPA 1710 (turnout 60 s EMS / 80 s fire;
# travel 240 s first engine or BLS, 480 s ALS). Police and utility services have no NFPA
# target; none is drawn for them.
TARGETS = {
    "dispatch": [("NFPA 1225: 60 s (90 %)", 60, None)],
    "ack": [("NFPA 1710 turnout EMS 60 s", 60, "medical"), ("fire 80 s", 80, "fire")],
    "travel": [("NFPA 1710 travel 240 s (engine, BLS)", 240, None), ("ALS 480 s", 480, "medical")],
    "response": [("EMS 60+60+240 = 360 s", 360, "medical"), ("fire 60+80+240 = 380 s", 380, "fire")],
}


def ts(value):
    return datetime.fromisoformat(value).timestamp() if value else None


def pct(values, q):
    if not values:
        return None
    values = sorted(values)
    pos = q / 100 * (len(values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def summary(values, digits=1):
    if not values:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "mean": None}
    return {"n": len(values), "p50": round(pct(values, 50), digits), "p90": round(pct(values, 90), digits),
            "p99": round(pct(values, 99), digits), "mean": round(sum(values) / len(values), digits)}


def analyse(sim, back):
    """Integrity checks and KPIs from the run's records and what the server stored."""
    speed = sim.speed
    stats = sim.stats
    calls = back["calls"]
    stored_ids = {c["id"] for c in calls}

    # 0 units double-assigned: no unit's assignments overlap in time (assigned -> ended).
    by_unit = {}
    for call in calls:
        for a in call["assignments"]:
            start = ts(a["assigned_at"])
            end = ts(a["ended_at"] or a["cleared_at"]) or float("inf")
            by_unit.setdefault(a["unit"]["id"], []).append((start, end, a["id"]))
    double = set()
    for unit_id, spans in by_unit.items():
        spans.sort()
        busy_until = float("-inf")
        for start, end, _ in spans:
            if start < busy_until:
                double.add(unit_id)
            busy_until = max(busy_until, end)
    not_ended = [c["reference"] for c in calls if c["status"] not in CALL_ENDED]
    journal, seen = back["journal"], stats.ws_events
    in_range = {i for i in seen if sim.start_event_id < i <= sim.end_event_id}
    missed = sorted(set(journal) - in_range)
    extra = sorted(in_range - set(journal))

    # KPIs per service (simulated seconds).
    k = {name: {s: [] for s in SERVICES} for name in ("dispatch", "ack", "travel", "response")}
    call_dispatch, call_arrival, system_ms, socket_ms = [], [], [], []
    for call in calls:
        received = ts(call["received_at"])
        if call["dispatched_at"]:
            call_dispatch.append((ts(call["dispatched_at"]) - received) * speed)
        if call["on_scene_at"]:
            call_arrival.append((ts(call["on_scene_at"]) - received) * speed)
        first = {}
        for a in sorted(call["assignments"], key=lambda a: a["assigned_at"]):
            svc = a["unit"]["service"]
            first.setdefault(svc, a)
            if a["acknowledged_at"]:
                k["ack"][svc].append((ts(a["acknowledged_at"]) - ts(a["assigned_at"])) * speed)
                if a["on_scene_at"]:
                    k["travel"][svc].append((ts(a["on_scene_at"]) - ts(a["acknowledged_at"])) * speed)
        for svc, a in first.items():
            k["dispatch"][svc].append((ts(a["assigned_at"]) - received) * speed)
            arrivals = [ts(x["on_scene_at"]) for x in call["assignments"]
                        if x["unit"]["service"] == svc and x["on_scene_at"]]
            if arrivals:
                k["response"][svc].append((min(arrivals) - received) * speed)
        # The system's own share: calls that had a free unit at once (no alert, not held).
        if call["assignments"] and call["id"] not in stats.alerted and call["id"] not in stats.held:
            first_at = min(ts(a["assigned_at"]) for a in call["assignments"])
            system_ms.append((first_at - received) * 1000)
            mine = stats.calls.get(call["id"])
            if mine and call["id"] in stats.ws_event_at:
                socket_ms.append((stats.ws_event_at[call["id"]] - mine["posted_at"]) * 1000)

    duration = max(1e-9, sim.clock_end_s)
    utilisation = {}
    for svc in SERVICES:
        n = sim.units[svc]
        busy = sum(min(e, duration) - s for srv, s, e in sim.busy if srv == svc and s < duration)
        utilisation[svc] = round(busy / (n * duration), 3) if n else None

    kpi = {
        "time_to_dispatch_s": summary(call_dispatch),
        "time_to_arrival_s": summary(call_arrival),
        "by_service": {svc: {name: summary(k[name][svc]) for name in k} for svc in SERVICES},
        "system_stored_to_assigned_ms": summary(system_ms),
        "post_to_operator_socket_assignment_ms": summary(socket_ms),
        # assignment committed -> heard by the unit's phone on /ws/unit/ (wall ms)
        "unit_feed_assignment_ms": summary(stats.feed_lag_ms),
        # scheduled -> a desk free to log it (simulated s): >0 when all desks were busy
        "intake_lag_s": summary(getattr(stats, "intake_lag_s", [])),
        "feed_drops": stats.feed_drops,
        "utilisation": utilisation,
        "declined": stats.declined,
        "transported": len(stats.transported),
        "calls_held_as_duplicates": len(stats.held),
        "calls_with_no_unit_alert": len(stats.alerted & stored_ids),
        "routes": {"road": sim.road_routes, "straight_line": sim.straight_routes},
    }
    report = {
        "run_id": sim.run_id,
        "base_url": sim.base_url,
        "seed": sim.seed,
        "speed": speed,
        "duration_min": sim.duration_s / 60,
        "simulated_min": round(sim.clock_end_s / 60, 1),
        "arrivals_ended_min": round(getattr(sim, "arrivals_ended_s", 0) / 60, 1),
        "start_hour": sim.start_hour,
        "calls_per_day": sim.calls_per_day,
        "units": sim.units,
        "interrupted": stats.interrupted,
        "wall_s": round(sim.ended_wall - sim.started_wall, 1),
        "calls_scheduled": len(sim.schedule),
        "calls_sent": stats.calls_sent,
        "calls_created": len(stats.calls),
        "calls_refused": len(stats.calls_refused),
        "calls_stored": len(calls),
        "double_assigned": len(double),
        "calls_not_ended": len(not_ended),
        "calls_cancelled_at_end": stats.closed_by_sim_at_end,
        "events_journal": len(journal),
        "events_received": len(in_range),
        "events_missed": len(missed),
        "events_extra": len(extra),
        "events_duplicated": getattr(stats, "ws_duplicates", 0),
        "foreign_available_units_at_start": sim.foreign_available,
        "checks": {
            "calls_sent_equals_stored": stats.calls_sent == len(calls),
            "no_unit_double_assigned": not double,
            "every_call_ended": not not_ended,
            "operator_socket_equals_journal": not missed and not extra,
        },
        "kpi": kpi,
        "examples": {"not_ended": not_ended[:20], "missed_event_ids": missed[:20],
                     "refused": [list(x) for x in stats.calls_refused[:10]], "errors": stats.errors[:20]},
        "event_range": [sim.start_event_id, sim.end_event_id],
    }
    series = {"k": k, "calls": calls}
    return report, series


# --- the plots --------------------------------------------------------------------------------


def _png(fig, out_dir, name):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = buf.getvalue()
    (out_dir / f"{name}.png").write_bytes(data)
    return base64.b64encode(data).decode()


def _ecdf(ax, values, label, colour):
    values = sorted(max(1.0, v) for v in values)  # on a log axis; nothing real takes under a second
    if not values:
        return
    ys = [(i + 1) / len(values) for i in range(len(values))]
    ax.step(values, ys, where="post", label=f"{label} (n={len(values)}, p90 {pct(values, 90):.0f} s)", color=colour)


def plots(sim, report, series, out_dir):
    speed, calls = sim.speed, series["calls"]
    images = {}
    t0 = sim.started_wall

    def sim_hour(wall):  # hours of the simulated day
        return sim.start_hour + (wall - t0) * speed / 3600

    fig, ax = plt.subplots(figsize=(8, 3))
    hours = [sim_hour(ts(c["received_at"])) for c in calls]
    if hours:
        lo, hi = int(min(hours)), int(max(hours)) + 1
        ax.hist(hours, bins=range(lo, hi + 1), color="#555", edgecolor="white")
    ax.set_xlabel("simulated hour of day")
    ax.set_ylabel("calls")
    ax.set_title("Calls per hour")
    images["calls_per_hour"] = _png(fig, out_dir, "calls_per_hour")

    changes = []
    for c in calls:
        start = ts(c["received_at"])
        firsts = [ts(a["assigned_at"]) for a in c["assignments"]]
        end = min(firsts) if firsts else ts(c["closed_at"]) or sim.ended_wall
        changes += [(start, 1), (end, -1)]
    changes.sort()
    xs, ys, level = [], [], 0
    for t, d in changes:
        level += d
        xs.append(sim_hour(t))
        ys.append(level)
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.step(xs, ys, where="post", color="#8e44ad")
    ax.set_xlabel("simulated hour of day")
    ax.set_ylabel("calls waiting for a first unit")
    ax.set_title("Waiting queue over time")
    images["waiting_queue"] = _png(fig, out_dir, "waiting_queue")

    titles = {"dispatch": "Time to dispatch (received -> unit assigned)",
              "ack": "Time to acknowledge (assigned -> acknowledged)",
              "travel": "Travel (acknowledged -> on scene)",
              "response": "Response time to scene (received -> first unit on scene)"}
    for name, title in titles.items():
        fig, ax = plt.subplots(figsize=(8, 3.6))
        for svc in SERVICES:
            _ecdf(ax, series["k"][name][svc], svc, COLOURS[svc])
        for i, (label, x, svc) in enumerate(TARGETS[name]):
            ax.axvline(x, color=COLOURS.get(svc, "black"), linestyle="--", linewidth=1)
            # Two targets can be 20 s apart (360 and 380 s): the first label left of its
            # line, the next right of its own, so they never print over each other.
            ax.text(x, 0.02, f" {label} ", rotation=90, va="bottom", ha="right" if i % 2 == 0 else "left",
                    fontsize=7, color=COLOURS.get(svc, "black"))
        ax.axhline(0.9, color="#999", linewidth=0.6)
        ax.set_xscale("log")
        ax.set_xlabel("simulated seconds")
        ax.set_ylabel("share of calls within")
        ax.set_ylim(0, 1.01)
        ax.set_title(title)
        ax.legend(fontsize=7, loc="lower right")
        images[name] = _png(fig, out_dir, f"time_{name}")

    fig, ax = plt.subplots(figsize=(8, 3))
    samples = sim.stats.queue_samples
    for svc in SERVICES:
        n = sim.units[svc]
        if not n or not samples:
            continue
        ax.plot([sim.start_hour + s[0] / 3600 for s in samples], [s[2].get(svc, 0) / n for s in samples],
                color=COLOURS[svc], label=f"{svc} ({n} units, mean {report['kpi']['utilisation'][svc]:.0%})")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("simulated hour of day")
    ax.set_ylabel("share of units busy")
    ax.set_title("Unit utilisation by service")
    ax.legend(fontsize=7)
    images["utilisation"] = _png(fig, out_dir, "utilisation")
    return images


def _row(label, value, ok=None):
    colour = "" if ok is None else (' style="color:#1e7b34"' if ok else ' style="color:#b00020;font-weight:bold"')
    return f"<tr><td>{html.escape(label)}</td><td{colour}>{html.escape(str(value))}</td></tr>"


def write(sim, back, out_dir):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report, series = analyse(sim, back)
    (out_dir / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    images = plots(sim, report, series, out_dir)
    checks = report["checks"]
    rows = [
        _row("calls sent = calls stored", f"{report['calls_sent']} = {report['calls_stored']}",
             checks["calls_sent_equals_stored"]),
        _row("units double-assigned (history)", report["double_assigned"], checks["no_unit_double_assigned"]),
        _row("calls not ended", report["calls_not_ended"], checks["every_call_ended"]),
        _row("events missed by one operator socket (journal)",
             f"{report['events_missed']} of {report['events_journal']} (extra {report['events_extra']})",
             checks["operator_socket_equals_journal"]),
    ]
    kpi = report["kpi"]
    krows = []
    for svc in SERVICES:
        b = kpi["by_service"][svc]
        cells = "".join(f"<td>{b[n]['n']}</td><td>{b[n]['p50']}</td><td>{b[n]['p90']}</td>"
                        for n in ("dispatch", "ack", "travel", "response"))
        krows.append(f"<tr><td>{svc}</td>{cells}<td>{kpi['utilisation'][svc]}</td></tr>")
    head = "".join(f"<th colspan=3>{n}</th>" for n in ("dispatch", "acknowledge", "travel", "response"))
    sub = "<th>n</th><th>p50</th><th>p90</th>" * 4
    imgs = "".join(f'<figure><img alt="{k}" src="data:image/png;base64,{v}"></figure>' for k, v in images.items())
    sysms = kpi["system_stored_to_assigned_ms"]
    sock = kpi["post_to_operator_socket_assignment_ms"]
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Simulation {report['run_id']}</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:1em auto;color:#222}}
table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}
td:first-child{{text-align:left}}img{{max-width:100%}}figure{{margin:.5em 0}}</style></head><body>
<h1>Simulated city day {report['run_id']}</h1>
<p>{html.escape(report['base_url'])}: {report['simulated_min']} simulated minutes at speed {report['speed']}
({report['wall_s']} s of wall time), seed {report['seed']}, {report['calls_per_day']} calls/day profile,
fleet {html.escape(json.dumps(report['units']))}{', <b>interrupted</b>' if report['interrupted'] else ''}.</p>
<h2>Integrity</h2><table>{''.join(rows)}</table>
<h2>Key figures (simulated seconds)</h2>
<p>Time to dispatch p50/p90 {kpi['time_to_dispatch_s']['p50']}/{kpi['time_to_dispatch_s']['p90']} s,
time to arrival p50/p90 {kpi['time_to_arrival_s']['p50']}/{kpi['time_to_arrival_s']['p90']} s.
The system's own share, call stored -> assignment created (wall clock, calls with a free unit):
p50 {sysms['p50']} ms, p99 {sysms['p99']} ms (n={sysms['n']}); operator POST sent -> assignment.created on
the operator socket p50 {sock['p50']} ms, p99 {sock['p99']} ms; assignment committed -> heard on the unit's
feed p50 {kpi['unit_feed_assignment_ms']['p50']} ms, p99 {kpi['unit_feed_assignment_ms']['p99']} ms.
Declined {kpi['declined']}, transported {kpi['transported']}, held as duplicates {kpi['calls_held_as_duplicates']},
calls with a no-unit alert {kpi['calls_with_no_unit_alert']}, cancelled at the end {report['calls_cancelled_at_end']}.</p>
<table><tr><th rowspan=2>service</th>{head}<th rowspan=2>utilisation</th></tr><tr>{sub}</tr>{''.join(krows)}</table>
{imgs}
<p style="font-size:small">Targets drawn: NFPA 1225 call processing, NFPA 1710 turnout and travel; police and
utility services have no NFPA target. Profile: San Francisco Fire Department calls for service (DataSF, PDDL)
mapped onto this catalogue; places: © OpenStreetMap contributors, ODbL 1.0.</p>
</body></html>
"""
    (out_dir / "report.html").write_text(page)
    return report
