"""Position fixes ingested through POST /api/v1/me/location/ (single fixes and batches).

    .venv/bin/python bench/positions_ingest.py [--web-workers 2] [--units 50] [--seconds 10]
        [--concurrency 50] [--batch 100] [--batch-concurrency 8] [--db-pool 4] [--move-m 20]

Starts uvicorn (`--workers N`) against dispatch_bench / Redis db 14, bulk-creates units,
issues each a device token (units.services.unit_issue_token), then for --seconds each:
  (a) single fixes: --concurrency keep-alive connections, each posting one fix at a time
      for its own unit (a random walk of --move-m metres, so the live location moves);
  (b) batches: --batch-concurrency connections posting --batch fixes per request.
Prints requests/s, fixes/s and latency percentiles, and checks that every accepted fix
is in the history table. The load generator (asyncio, raw HTTP/1.1 keep-alive) shares the
same 2 cores with uvicorn and PostgreSQL. --db-pool N sets DB_POOL_MAX_SIZE for the
server (4 by default, as the Procfile's web command; 0: a new PostgreSQL connection per
request).
SPEC: >= 500 single requests/s; >= 5,000 fixes/s in batches. Cleans up at the end.
"""

import argparse
import asyncio
import math
import os
import random
import time
from datetime import UTC, datetime, timedelta

import _common  # noqa: F401  (sets up Django against dispatch_bench)
from _common import (
    ASTANA,
    Http,
    bulk_units,
    clean_database,
    print_load_after,
    print_machine,
    remove_logs,
    report_problems,
    start_uvicorn,
    summary,
    table,
    tree_cpu_seconds,
)

from units.models import UnitPosition
from units.services import unit_issue_token


class Walker:
    """A unit driving around: each fix moves about `step_m` metres."""

    def __init__(self, rng, step_m):
        self.rng, self.step = rng, step_m
        self.lat, self.lon = rng.uniform(ASTANA[0], ASTANA[1]), rng.uniform(ASTANA[2], ASTANA[3])

    def fix(self, at):
        angle = self.rng.uniform(0, 2 * math.pi)
        self.lat += self.step * math.cos(angle) / 111_320
        self.lon += self.step * math.sin(angle) / (111_320 * math.cos(math.radians(self.lat)))
        return {"lat": round(self.lat, 7), "lon": round(self.lon, 7), "accuracy_m": 8, "heading": 90,
                "speed_mps": 11.0, "recorded_at": at.isoformat()}


async def load(port, tokens, walkers, connections, batch, seconds):
    """Run `connections` loops for `seconds`; returns (latencies ms, statuses, fixes accepted, elapsed)."""
    latencies, statuses, accepted = [], {}, [0]
    deadline = time.perf_counter() + seconds

    async def loop(i):
        http = Http(port, tokens[i % len(tokens)])
        walker = walkers[i % len(walkers)]
        try:
            while time.perf_counter() < deadline:
                now = datetime.now(UTC)
                if batch:  # a phone's buffer: one fix a millisecond, the newest now (it moves the unit)
                    body = [walker.fix(now - timedelta(milliseconds=batch - 1 - j)) for j in range(batch)]
                else:
                    body = walker.fix(now)
                t0 = time.perf_counter()
                status, data = await http.request("POST", "/api/v1/me/location/", body)
                latencies.append((time.perf_counter() - t0) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    accepted[0] += batch or 1
                elif statuses[status] <= 3:
                    print(f"   HTTP {status}: {data[:200]!r}")
        finally:
            await http.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(loop(i) for i in range(connections)))
    return latencies, statuses, accepted[0], time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--web-workers", type=int, default=2)
    ap.add_argument("--units", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--batch-concurrency", type=int, default=8)
    # 4 as in the Procfile's web command: without a pool every once-a-second journal row of a
    # unit opened a PostgreSQL connection, and the reports waiting for it stalled for seconds.
    ap.add_argument("--db-pool", type=int, default=int(os.environ.get("DB_POOL_MAX_SIZE") or 4))
    ap.add_argument("--move-m", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=112)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.environ["DB_POOL_MAX_SIZE"] = str(args.db_pool)  # for the server process only
    print_machine("position ingest (bench/positions_ingest.py)")
    clean_database()
    bulk_units(args.units, rng, {"medical": [["als"]], "police": [[]]}, available=1.0)
    from units.models import Unit

    tokens = [unit_issue_token(unit_id=pk, actor=None) for pk in Unit.objects.order_by("pk").values_list("pk", flat=True)]
    walkers = [Walker(rng, args.move_m) for _ in tokens]
    web = start_uvicorn(workers=args.web_workers)
    rows = []
    try:
        asyncio.run(load(web.port, tokens, walkers, min(8, len(tokens)), 0, 1.0))  # warm up every worker
        before = UnitPosition.objects.count()
        for name, conns, batch in ((f"single fix, {args.concurrency} connections", args.concurrency, 0),
                                   (f"{args.batch} fixes per request, {args.batch_concurrency} connections",
                                    args.batch_concurrency, args.batch)):
            cpu0 = tree_cpu_seconds(web.popen.pid)
            lat, statuses, fixes, elapsed = asyncio.run(load(web.port, tokens, walkers, conns, batch, args.seconds))
            cpu = (tree_cpu_seconds(web.popen.pid) - cpu0) * 1000 / max(1, len(lat))
            s = summary(lat)
            ok = statuses.get(200, 0)
            rows.append([name, ok, " ".join(f"{k}:{v}" for k, v in sorted(statuses.items())), ok / elapsed,
                         fixes / elapsed, s["p50"], s["p90"], s["p99"], s["max"], cpu])
            stored = UnitPosition.objects.count() - before
            before += stored
            print(f"-- {name}: {fixes} fixes accepted, {stored} history rows written")
    finally:
        web.stop()
        report_problems(web)
        remove_logs()
        clean_database()
    print(f"-- uvicorn workers {args.web_workers}; DB_POOL_MAX_SIZE {args.db_pool}; {args.units} units; "
          f"{args.seconds:.0f} s per part; latency in ms")
    table(["load", "200s", "statuses", "requests/s", "fixes/s", "p50", "p90", "p99", "max", "server CPU ms/req"],
          rows)
    print("-- server CPU = user+system time of the uvicorn processes per request (PostgreSQL not included).")
    print("SPEC: >= 500 single requests/s; >= 5,000 fixes/s in batches.")
    print_load_after()


if __name__ == "__main__":
    main()
