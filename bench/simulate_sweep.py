"""Runs of `manage.py simulate` against a running instance, one after another, and a table.

    # the speed at which the system's own share (call stored -> assignment created) holds
    python bench/simulate_sweep.py speeds --speeds 4,8,16,24 --duration 30 --base-url http://127.0.0.1:8260
    # what if there were fewer ambulances: response time by number of medical units
    python bench/simulate_sweep.py ambulances --medical 30,45,60 --duration 90 --speed 24 --base-url ...

Each run writes its report under --out (default /tmp/simulate_sweep/NAME); the table is
read from the report.json files. Runs use --local (this settings' DATABASE_URL must be the
instance's database) and the same seed, so they see the same calls.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLEET = {"police": 40, "medical": 60, "fire": 15, "utility": 20}


def run(name, args, out):
    report = Path(out) / name
    cmd = [sys.executable, "manage.py", "simulate", "--local", "--no-progress", "--report", str(report), *args]
    load = os.getloadavg()[0]
    started = time.monotonic()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    data = json.loads((report / "report.json").read_text())
    data["_load_before"] = round(load, 1)
    data["_wall"] = round(time.monotonic() - started)
    return data


def fmt(v):
    return "-" if v is None else (f"{v:.0f}" if isinstance(v, float) else str(v))


def checks(d):
    return "ok" if all(d["checks"].values()) else ",".join(k for k, v in d["checks"].items() if not v)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["speeds", "ambulances"])
    p.add_argument("--base-url", default="http://127.0.0.1:8000")
    p.add_argument("--speeds", default="4,8,16,24")
    p.add_argument("--medical", default="30,45,60")
    p.add_argument("--speed", type=float, default=24)
    p.add_argument("--duration", type=float, default=30)
    p.add_argument("--start-hour", type=float, default=10)
    p.add_argument("--calls-per-day", type=float, default=2000)
    p.add_argument("--drain", type=float, default=30)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="/tmp/simulate_sweep")
    a = p.parse_args()
    common = ["--base-url", a.base_url, "--duration", str(a.duration), "--start-hour", str(a.start_hour),
              "--calls-per-day", str(a.calls_per_day), "--drain", str(a.drain), "--seed", str(a.seed)]
    rows = []
    if a.what == "speeds":
        print("| speed | calls | stored->assigned p50 / p99 ms | POST->operator socket p50 / p99 ms | "
              "assigned->unit feed p50 / p99 ms | checks | load before |")
        print("|---|---|---|---|---|---|---|")
        for speed in a.speeds.split(","):
            units = ",".join(f"{k}={v}" for k, v in FLEET.items())
            d = run(f"speed{speed}", [*common, "--speed", speed, "--units", units], a.out)
            k = d["kpi"]
            s, o, f = (k["system_stored_to_assigned_ms"], k["post_to_operator_socket_assignment_ms"],
                       k["unit_feed_assignment_ms"])
            print(f"| {speed} | {d['calls_stored']} | {fmt(s['p50'])} / {fmt(s['p99'])} | {fmt(o['p50'])} / "
                  f"{fmt(o['p99'])} | {fmt(f['p50'])} / {fmt(f['p99'])} | {checks(d)} | {d['_load_before']} |",
                  flush=True)
            rows.append(d)
    else:
        print("| ambulances | medical calls answered | medical response p50 / p90 s | medical dispatch p50 / p90 s | "
              "medical utilisation | checks | load before |")
        print("|---|---|---|---|---|---|---|")
        for n in a.medical.split(","):
            fleet = dict(FLEET, medical=int(n))
            units = ",".join(f"{k}={v}" for k, v in fleet.items())
            d = run(f"medical{n}", [*common, "--speed", str(a.speed), "--units", units], a.out)
            m = d["kpi"]["by_service"]["medical"]
            print(f"| {n} | {m['response']['n']} | {fmt(m['response']['p50'])} / {fmt(m['response']['p90'])} | "
                  f"{fmt(m['dispatch']['p50'])} / {fmt(m['dispatch']['p90'])} | "
                  f"{d['kpi']['utilisation']['medical']} | {checks(d)} | {d['_load_before']} |", flush=True)
            rows.append(d)


if __name__ == "__main__":
    main()
