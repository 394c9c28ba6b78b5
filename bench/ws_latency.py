"""Call committed (HTTP 201) -> event received on an operator websocket, and fan-out.

    .venv/bin/python bench/ws_latency.py [--calls 200] [--fanout-clients 100|10,100,500] [--fanout-calls 50]
        [--web-workers 1] [--db-pool 4] [--seed 112]

Starts a Celery worker (concurrency 2) and uvicorn (`config.asgi:application`) against
dispatch_bench / Redis db 14, bulk-creates available medical 'als' units, creates an
operator account (ensure_account) and connects to ws://127.0.0.1:P/ws/events/ with
`Authorization: Token ...`. Then:

  1. one call after another: POST /api/v1/calls/ (cardiac_arrest, random point); the
     moment the 201 is read counts as committed (an upper bound of the commit: the view
     serializes the call after committing); measure until `call.created` and
     `assignment.created` for that call arrive on the websocket; then POST .../close/.
  2. fan-out: N websocket clients; per call, the time until the `call.created` reached
     every client (the slowest), from the POST and from the 201, and first-to-last spread.

All times from one clock (time.perf_counter in this process). The load generator runs on
the same 2 cores as the server, worker and PostgreSQL. SPEC: p50 <= 100 ms, p99 <= 250 ms
(assignment.created). Empties the tables and Redis db 14 at the end.
"""

import argparse
import asyncio
import json
import os
import random
import time

import _common  # noqa: F401  (sets up Django against dispatch_bench)
import websockets
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
    start_worker,
    summary,
    table,
)

from accounts.services import ensure_account


class Client:
    """A websocket reader that notes when each (type, call id) first arrived."""

    def __init__(self):
        self.seen = {}
        self.waiters = {}
        self.count = 0
        self.last_id = None
        self.drops = 0  # connections the server dropped; the client resumes with ?since= like a console

    async def run(self, port, token, ready):
        while True:
            since = "" if self.last_id is None else f"?since={self.last_id}"
            url = f"ws://127.0.0.1:{port}/ws/events/{since}"
            try:
                async with websockets.connect(url, additional_headers={"Authorization": f"Token {token}"},
                                              open_timeout=20, max_queue=None) as ws:
                    if not ready.done():
                        ready.set_result(True)
                    async for raw in ws:
                        self.receive(raw)
            except (websockets.exceptions.ConnectionClosed, OSError):
                self.drops += 1
                await asyncio.sleep(0.05)

    def receive(self, raw):
        now = time.perf_counter()
        msg = json.loads(raw)
        self.count += 1
        if msg.get("id") is not None:
            self.last_id = msg["id"]
        data = msg.get("data") or {}
        call_id = data.get("id") if msg["type"].startswith("call.") else data.get("call")
        key = (msg["type"], call_id)
        if key not in self.seen:
            self.seen[key] = now
            fut = self.waiters.pop(key, None)
            if fut is not None and not fut.done():
                fut.set_result(now)

    async def arrival(self, type_, call_id, timeout=10.0):
        key = (type_, call_id)
        if key in self.seen:
            return self.seen[key]
        fut = self.waiters.setdefault(key, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            return None


async def connect_clients(n, port, token, at_once=10):
    """n clients, connected `at_once` at a time (a console room opening)."""
    clients, tasks = [], []
    for start in range(0, n, at_once):
        readies = []
        for _ in range(min(at_once, n - start)):
            c = Client()
            ready = asyncio.get_running_loop().create_future()
            tasks.append(asyncio.create_task(c.run(port, token, ready)))
            clients.append(c)
            readies.append(ready)
        await asyncio.wait_for(asyncio.gather(*readies), 30)
    return clients, tasks


async def new_call(http, rng):
    body = {"incident_type": "cardiac_arrest", "caller_phone": "+77010000000",
            "location": {"lat": rng.uniform(ASTANA[0], ASTANA[1]), "lon": rng.uniform(ASTANA[2], ASTANA[3]),
                         "accuracy_m": 10, "source": "operator"}}
    t_sent = time.perf_counter()
    status, data = await http.request("POST", "/api/v1/calls/", body)
    t201 = time.perf_counter()
    if status != 201:
        raise RuntimeError(f"POST /calls/ -> {status}: {data[:300]!r}")
    return json.loads(data)["id"], t_sent, t201


async def close_call(http, call_id):
    status, data = await http.request("POST", f"/api/v1/calls/{call_id}/close/", {"disposition": "resolved"})
    if status != 200:
        print(f"   close {call_id} -> {status}: {data[:200]!r}")


async def single(port, token, args, rng):
    http = Http(port, token)
    clients, tasks = await connect_clients(1, port, token)
    c = clients[0]
    post, created, assigned, assigned_sent, missing = [], [], [], [], 0
    for i in range(args.warmup + args.calls):
        call_id, t_sent, t201 = await new_call(http, rng)
        t_created = await c.arrival("call.created", call_id)
        t_assigned = await c.arrival("assignment.created", call_id)
        if t_assigned is None or t_created is None:
            missing += 1
        elif i >= args.warmup:
            post.append((t201 - t_sent) * 1000)
            created.append((t_created - t201) * 1000)
            assigned.append((t_assigned - t201) * 1000)
            assigned_sent.append((t_assigned - t_sent) * 1000)
        await close_call(http, call_id)
    for t in tasks:
        t.cancel()
    await http.close()
    return {"drops": c.drops, "post": post, "created": created, "assigned": assigned, "assigned_sent": assigned_sent,
            "missing": missing}


async def fanout(port, token, args, rng, n):
    http = Http(port, token)
    t0 = time.monotonic()
    clients, tasks = await connect_clients(n, port, token)
    print(f"-- {len(clients)} websocket clients connected in {time.monotonic() - t0:.1f} s")
    slowest, slowest201, spread, missing = [], [], [], 0
    for i in range(args.warmup + args.fanout_calls):
        call_id, t_sent, t201 = await new_call(http, rng)
        arrivals = await asyncio.gather(*(c.arrival("call.created", call_id) for c in clients))
        got = [t for t in arrivals if t is not None]
        if len(got) < len(clients):
            missing += len(clients) - len(got)
        elif i >= args.warmup:
            slowest.append((max(got) - t_sent) * 1000)
            slowest201.append((max(got) - t201) * 1000)
            spread.append((max(got) - min(got)) * 1000)
        await clients[0].arrival("assignment.created", call_id)
        await close_call(http, call_id)
    await asyncio.sleep(0.5)
    counts = sorted(c.count for c in clients)
    drops = sum(c.drops for c in clients)
    for t in tasks:
        t.cancel()
    await http.close()
    return {"slowest": slowest, "slowest201": slowest201, "spread": spread, "missing": missing, "counts": counts,
            "drops": drops}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--fanout-clients", default="100",
                    help="sockets for the fan-out part; a list (10,100,500) measures each in turn")
    ap.add_argument("--fanout-calls", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--units", type=int, default=200)
    ap.add_argument("--web-workers", type=int, default=1)
    ap.add_argument("--db-pool", type=int, default=4,
                    help="DB_POOL_MAX_SIZE of the web processes (4 as in the Procfile; 0: a connection per request)")
    ap.add_argument("--seed", type=int, default=112)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    print_machine("call -> websocket event, and fan-out (bench/ws_latency.py)")
    clean_database()
    bulk_units(args.units, rng, {"medical": [["als"]]}, available=1.0)
    _user, token = ensure_account("bench-operator", "operator")
    procs = []
    try:
        procs.append(start_worker(concurrency=2))
        os.environ["DB_POOL_MAX_SIZE"] = str(args.db_pool)
        web = start_uvicorn(workers=args.web_workers)
        procs.append(web)
        one = asyncio.run(single(web.port, token, args, rng))
        fanouts = []
        for n in [int(x) for x in str(args.fanout_clients).split(",")]:
            fanouts.append((n, asyncio.run(fanout(web.port, token, args, rng, n))))
    finally:
        for p in procs:
            p.stop()
        report_problems(*procs)
        remove_logs()
        clean_database()
    print(f"-- uvicorn workers: {args.web_workers}; DB_POOL_MAX_SIZE {args.db_pool}; celery concurrency 2; "
          f"{args.warmup} warm-up calls per part; ms")
    parts = [(f"1 client: POST sent -> 201 read ({one['missing']} calls missing an event)", one["post"]),
             ("1 client: 201 -> call.created", one["created"]),
             ("1 client: 201 -> assignment.created  [SPEC]", one["assigned"]),
             ("1 client: POST sent -> assignment.created", one["assigned_sent"])]
    for n, many in fanouts:
        parts += [(f"{n} clients: POST sent -> call.created at the slowest ({many['missing']} missing)",
                   many["slowest"]),
                  (f"{n} clients: 201 -> call.created at the slowest", many["slowest201"]),
                  (f"{n} clients: first -> last client", many["spread"])]
    rows = []
    for name, values in parts:
        s = summary(values)
        rows.append([name, s["n"], s["p50"], s["p90"], s["p99"], s["max"]])
    table(["measure", "n", "p50", "p90", "p99", "max"], rows)
    for n, many in fanouts:
        counts = many["counts"]
        print(f"-- {n} fan-out clients: messages received per client min {counts[0]}, max {counts[-1]}; "
              f"{many['missing']} call.created missing; {many['drops']} connections dropped by the server")
    print(f"-- websocket connections dropped by the server in part 1 (clients resumed with ?since=): {one['drops']}")
    print("-- 'call.created' before the 201 (negative) is normal: the 201 is written after the commit"
          " and after serializing the call.")
    print("SPEC: call committed -> assignment.created on an operator websocket: p50 <= 100 ms, p99 <= 250 ms.")
    print_load_after()


if __name__ == "__main__":
    main()
