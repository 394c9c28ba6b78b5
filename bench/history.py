"""Call history and statistics over 1,000,000 calls (SPEC: history page p99 ≤ 150 ms).

Usage (from the project root; PostgreSQL must be up):

    PGPASSWORD=dispatch createdb -h 127.0.0.1 -U dispatch -T dispatch_template dispatch_bench_history
    DATABASE_URL=postgis://dispatch:dispatch@127.0.0.1:5432/dispatch_bench_history DEBUG=true \\
        .venv/bin/python manage.py migrate
    .venv/bin/python bench/history.py            # fills once (~minutes), then times
    .venv/bin/python bench/history.py --runs 50 --refill
    .venv/bin/python bench/history.py --gc-threshold 20000   # a server with a tuned collector
    .venv/bin/python bench/history.py --http 4               # also through gunicorn, 4 clients at once

It fills the separate database `dispatch_bench_history` (never the others: it truncates)
with a year of calls in a few INSERT … SELECT generate_series statements, measures the ended
ones into the metrics tables (as the services do when a call ends), VACUUM ANALYZEs it, then
times the real DRF views in-process (request factory → CallViewSet.list /
StatsView, response rendered to JSON): the first history page and a deep page by cursor,
each SPEC filter alone and combined, and the statistics endpoint. It prints p50/p99 per
case and the machine. A filled database is reused unless --refill is given.
"""

import argparse
import base64
import datetime
import gc
import os
import platform
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# BENCH_HISTORY_DB: another database of the same kind (a helper's own copy); it is truncated too.
DB_NAME = os.environ.get("BENCH_HISTORY_DB", "dispatch_bench_history")
os.environ.setdefault("DATABASE_URL", f"postgis://dispatch:dispatch@127.0.0.1:5432/{DB_NAME}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("DEBUG", "false")  # DEBUG keeps every query in memory and adds cost per query
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if urlparse(os.environ["DATABASE_URL"]).path.lstrip("/") != DB_NAME:
    sys.exit(f"refusing to run against anything but {DB_NAME}: this benchmark truncates tables")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.test import APIRequestFactory, force_authenticate  # noqa: E402

from dispatch import rollups  # noqa: E402
from dispatch.call_apis import CallViewSet  # noqa: E402
from dispatch.metrics import backfill_call_metrics  # noqa: E402
from dispatch.models import CallMetrics, StatsBlock  # noqa: E402
from dispatch.stats import call_statistics, direct_call_statistics  # noqa: E402
from dispatch.supervisor_apis import StatsView  # noqa: E402

# BENCH_HISTORY_CALLS: a smaller fill, only to try the script out.
N_CALLS = int(os.environ.get("BENCH_HISTORY_CALLS", 1_000_000))
N_OPERATORS = 20
UNITS_PER_SERVICE = 100
SERVICES = ("police", "medical", "fire", "utility")
# A year of calls, oldest first, so that ids grow with time as they do in production.
SPAN_S = 365 * 24 * 3600
STREETS = [
    "проспект Кабанбай батыра", "проспект Республики", "улица Кенесары", "проспект Абая", "улица Бейбитшилик",
    "проспект Мангилик Ел", "улица Сыганак", "проспект Туран", "улица Достык", "улица Ауэзова",
    "проспект Сарыарка", "улица Иманова", "улица Жубанова", "проспект Богенбай батыра", "улица Московская",
    "Қабанбай батыр даңғылы", "Сығанақ көшесі", "Тұран даңғылы", "улица Акмешит", "улица Орынбор",
    "улица Пушкина", "улица Сейфуллина", "проспект Победы", "улица Петрова", "улица Габдуллина",
    "шоссе Коргалжын", "улица Айнакол", "улица Шарль де Голль", "улица Кошкарбаева", "проспект Шакарима",
]
DESCRIPTIONS = [
    "", "", "", "пострадавший без сознания", "ДТП на перекрёстке", "запах газа в подъезде", "дым из окна",
    "шум у соседей", "нет света в доме", "прорыв трубы", "драка во дворе", "пожилой человек упал",
    "боль в груди", "ребёнок с температурой", "подозрительный предмет",
]
DISPOSITIONS = ["resolved", "resolved", "resolved", "transported", "transported", "false_alarm", "caller_advised",
                "referred", "gone_on_arrival", "hoax"]


def sql_text_array(values):
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]::text[]"


# --- fill ---------------------------------------------------------------------------------------


def fill(seed=0.112):
    t0 = time.perf_counter()
    User = get_user_model()
    with connection.cursor() as cur:
        cur.execute("TRUNCATE dispatch_event, dispatch_assignment, calls_call_possible_duplicates, calls_amlmessage, "
                    "calls_call, units_unitposition, units_unit, dispatch_statshistogram, dispatch_statscount, "
                    "dispatch_statsblock, dispatch_statsstaleday RESTART IDENTITY CASCADE")
    User.objects.filter(username__startswith="bench-").delete()
    operator_group = Group.objects.get_or_create(name="operator")[0]
    supervisor_group = Group.objects.get_or_create(name="supervisor")[0]
    operators = []
    for i in range(1, N_OPERATORS + 1):
        user = User.objects.create_user(username=f"bench-op-{i:02d}", password=None)
        user.groups.add(operator_group)
        operators.append(user.pk)
    supervisor = User.objects.create_user(username="bench-supervisor", password=None)
    supervisor.groups.add(supervisor_group)

    with connection.cursor() as cur:
        cur.execute("SELECT setseed(%s)", [seed])
        # Units: UNITS_PER_SERVICE per service, ids contiguous per service (used below).
        cur.execute(f"""
            INSERT INTO units_unit (id, callsign, service, capabilities, status, status_changed_at, location,
                                    location_accuracy_m, location_recorded_at, home_station)
            SELECT s.n * {UNITS_PER_SERVICE} + u, upper(left(s.service, 1)) || '-' || (100 + u), s.service,
                   '{{}}'::text[], 'available', now(),
                   ST_SetSRID(ST_MakePoint(71.25 + random() * 0.4, 51.05 + random() * 0.2), 4326)::geography,
                   10, now(), ''
            FROM (SELECT service, n0 - 1 AS n FROM unnest(%s::text[]) WITH ORDINALITY AS x(service, n0)) s
            CROSS JOIN generate_series(1, {UNITS_PER_SERVICE}) u
        """, [list(SERVICES)])
        cur.execute("SELECT setval(pg_get_serial_sequence('units_unit', 'id'), (SELECT max(id) FROM units_unit))")

        # Calls: one statement. Random draws happen once per row in the inner SELECT.
        cur.execute(f"""
            WITH ty AS (
                SELECT array_agg(t.id ORDER BY t.id) AS ids, array_agg(t.priority ORDER BY t.id) AS prios,
                       array_agg(EXISTS (SELECT 1 FROM calls_responseplanline p WHERE p.incident_type_id = t.id)
                                 ORDER BY t.id) AS planned,
                       count(*)::int AS n
                FROM calls_incidenttype t WHERE t.active
            ), r AS (
                SELECT g, 1 + floor(random() * ty.n)::int AS k, random() AS r_status, random() AS r_disp,
                       random() AS r_scene, random() AS r_loc, random() AS r_x, random() AS r_y, random() AS r_street,
                       random() AS r_house, random() AS r_desc, random() AS r_phone, random() AS r_op,
                       random() AS r_chan, random() AS r_dispo,
                       now() - make_interval(secs => {SPAN_S}) + make_interval(secs => g * {SPAN_S}::float8 / {N_CALLS})
                           AS received
                FROM generate_series(1, {N_CALLS}) g, ty
            ), c AS (
                SELECT r.*, ty.ids[k] AS type_id, ty.prios[k] AS priority, ty.planned[k] AS planned,
                       CASE WHEN g > {N_CALLS} - 150 THEN (ARRAY['pending','dispatched','on_scene'])[1 + (g %% 3)]
                            WHEN r_status < 0.015 THEN 'cancelled' WHEN r_status < 0.02 THEN 'merged'
                            ELSE 'closed' END AS status
                FROM r, ty
            )
            INSERT INTO calls_call (id, reference, status, incident_type_id, priority, caller_phone, caller_name,
                channel, description, location, location_accuracy_m, location_source, address, received_at,
                dispatched_at, on_scene_at, closed_at, disposition, hold_reason, unmet_needs, created_by_id,
                updated_at)
            SELECT g, 'C-' || to_char(received AT TIME ZONE 'Asia/Almaty', 'YYYY') || '-' || lpad(g::text, 7, '0'),
                status, type_id, priority,
                CASE WHEN r_phone < 0.03 THEN '' ELSE '+7701' || lpad(floor(r_phone * 1e7)::int::text, 7, '0') END,
                '', CASE WHEN r_chan < 0.9 THEN 'voice' WHEN r_chan < 0.96 THEN 'aml' ELSE 'sms' END,
                ({sql_text_array(DESCRIPTIONS)})[1 + floor(r_desc * {len(DESCRIPTIONS)})::int],
                CASE WHEN r_loc < 0.02 THEN NULL ELSE
                    ST_SetSRID(ST_MakePoint(71.25 + r_x * 0.4, 51.05 + r_y * 0.2), 4326)::geography END,
                CASE WHEN r_loc < 0.02 THEN NULL ELSE 5 + floor(r_loc * 80) END,
                CASE WHEN r_loc < 0.02 THEN '' WHEN r_chan >= 0.9 AND r_chan < 0.96 THEN 'aml' ELSE 'address' END,
                ({sql_text_array(STREETS)})[1 + floor(r_street * {len(STREETS)})::int] || ', '
                    || (1 + floor(r_house * 150))::int,
                received,
                CASE WHEN planned AND status <> 'pending' THEN received + make_interval(secs => 5 + r_disp ^ 3 * 240) END,
                CASE WHEN planned AND status IN ('closed', 'on_scene') AND r_scene < 0.93
                     THEN received + make_interval(secs => 5 + r_disp ^ 3 * 240 + 120 + r_scene * 900) END,
                CASE WHEN status IN ('closed', 'cancelled', 'merged') THEN received + interval '50 minutes' END,
                CASE WHEN status = 'closed' THEN ({sql_text_array(DISPOSITIONS)})[1 + floor(r_dispo * {len(DISPOSITIONS)})::int]
                     WHEN status = 'cancelled' THEN 'cancelled' WHEN status = 'merged' THEN 'duplicate' ELSE '' END,
                '', '[]'::jsonb, (%s::int[])[1 + floor(r_op * {N_OPERATORS})::int], received + interval '50 minutes'
            FROM c
        """, [operators])
        cur.execute("SELECT setval(pg_get_serial_sequence('calls_call', 'id'), (SELECT max(id) FROM calls_call))")

        # Assignments: each dispatched call gets a unit of each service its plan asks for
        # (first plan line of each service), cleared; 8 % of them a declined offer first.
        cur.execute(f"""
            WITH lines AS (
                SELECT DISTINCT incident_type_id, service FROM calls_responseplanline
            ), svc AS (
                SELECT x.service, x.n0 - 1 AS n FROM unnest(%s::text[]) WITH ORDINALITY AS x(service, n0)
            ), a AS (
                SELECT c.id AS call_id, l.service, svc.n, c.dispatched_at, c.on_scene_at, c.status, random() AS r1,
                       random() AS r2, random() AS r3
                FROM calls_call c JOIN lines l ON l.incident_type_id = c.incident_type_id JOIN svc USING (service)
                WHERE c.dispatched_at IS NOT NULL
            )
            INSERT INTO dispatch_assignment (call_id, unit_id, status, service, capability, distance_m, basis, reason,
                assigned_at, acknowledged_at, on_scene_at, cleared_at, ended_at, end_reason)
            SELECT call_id, n * {UNITS_PER_SERVICE} + 1 + floor(r1 * {UNITS_PER_SERVICE})::int, 'cleared', service,
                   '', 200 + r2 * 5000, '', 'auto: nearest available', dispatched_at + make_interval(secs => r3 * 5),
                   dispatched_at + make_interval(secs => 5 + r2 * 40),
                   CASE WHEN on_scene_at IS NOT NULL THEN on_scene_at + make_interval(secs => r3 * 60) END,
                   dispatched_at + interval '45 minutes', dispatched_at + interval '45 minutes', ''
            FROM a
            UNION ALL
            SELECT call_id, n * {UNITS_PER_SERVICE} + 1 + floor(r2 * {UNITS_PER_SERVICE})::int, 'declined', service,
                   '', 300 + r1 * 5000, '', 'auto: nearest available', dispatched_at - make_interval(secs => 20),
                   NULL, NULL, NULL, dispatched_at - make_interval(secs => 10), 'declined: busy'
            FROM a WHERE r3 < 0.08
        """, [list(SERVICES)])
    filled = time.perf_counter() - t0
    measure()
    roll_up()
    t1 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE calls_call")
        cur.execute("VACUUM ANALYZE dispatch_assignment")
        cur.execute("VACUUM ANALYZE units_unit")
    print(f"filled in {filled:.0f} s, VACUUM ANALYZE {time.perf_counter() - t1:.0f} s")


def measure():
    """The metrics rows the services write when a call ends (the fill goes around them)."""
    t0 = time.perf_counter()
    n = backfill_call_metrics()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE dispatch_callmetrics")
        cur.execute("VACUUM ANALYZE dispatch_callservicemetrics")
    print(f"measured {n:,} ended calls into the metrics tables in {time.perf_counter() - t0:.0f} s")


def roll_up():
    """The statistics rollups (dispatch/rollups.py), as `manage.py rollup_stats` builds them."""
    t0 = time.perf_counter()
    n = rollups.rebuild_all()
    with connection.cursor() as cur:
        for table in ("dispatch_statsblock", "dispatch_statscount", "dispatch_statshistogram"):
            cur.execute(f"VACUUM ANALYZE {table}")
        cur.execute("SELECT (SELECT count(*) FROM dispatch_statsblock), (SELECT count(*) FROM dispatch_statshistogram),"
                    " pg_size_pretty(pg_total_relation_size('dispatch_statshistogram')"
                    " + pg_total_relation_size('dispatch_statscount') + pg_total_relation_size('dispatch_statsblock'))")
        blocks, histograms, size = cur.fetchone()
    print(f"rolled up {n:,} days in {time.perf_counter() - t0:.1f} s: {blocks:,} blocks, {histograms:,} histograms,"
          f" {size}")


def counts():
    with connection.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM calls_call), (SELECT count(*) FROM dispatch_assignment)")
        return cur.fetchone()


# --- timing ---------------------------------------------------------------------------------------


def percentile(values, p):
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def cursor_at(offset, week=None):
    """A DRF CursorPagination cursor pointing `offset` rows down the history (of `week`)."""
    where, params = "", []
    if week:
        where, params = "WHERE received_at >= %s AND received_at < %s", [week["received_after"], week["received_before"]]
    with connection.cursor() as cur:
        cur.execute(f"SELECT received_at FROM calls_call {where} ORDER BY received_at DESC, id DESC OFFSET %s LIMIT 1",
                    [*params, offset])
        (position,) = cur.fetchone()
    return base64.b64encode(urlencode({"p": str(position)}).encode("ascii")).decode("ascii")


def sample_values():
    with connection.cursor() as cur:
        cur.execute("SELECT caller_phone, reference FROM calls_call WHERE id = %s", [N_CALLS // 8 + 7])
        phone, reference = cur.fetchone()
        cur.execute("SELECT max(received_at) FROM calls_call")
        (newest,) = cur.fetchone()
    return phone, reference, newest


def time_view(view, path, params, user, runs):
    factory = APIRequestFactory()
    timings, rows = [], None
    for i in range(runs + 3):  # 3 warm-up requests, not counted
        request = factory.get(path, params, HTTP_HOST="127.0.0.1")
        force_authenticate(request, user=user)
        start = time.perf_counter()
        response = view(request)
        response.render()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{path} {params}: HTTP {response.status_code} {response.content[:300]!r}")
        if i >= 3:
            timings.append(elapsed)
        data = response.data
        rows = len(data["results"]) if "results" in data else data.get("calls")
    return timings, rows


def time_stats_ab(newest, runs):
    """/stats/' work before and after the rollups, interleaved in the same conditions: the
    direct computation over every metrics row (the code before issue 19) and the rollups,
    each rendered to JSON as the view does. Also the largest percentile difference."""
    from rest_framework.renderers import JSONRenderer

    renderer = JSONRenderer()
    print()
    print("| period | runs | before: direct p50 / p99 ms | after: rollups p50 / p99 ms | counts equal |"
          " largest percentile difference |")
    print("|---|---:|---:|---:|---|---:|")
    for days in (7, 30, 365):
        start, end = newest - datetime.timedelta(days=days), newest
        n = runs if days < 365 else max(3, runs // 10)
        timings, out = {"direct": [], "rollups": []}, {}
        for i in range(n + 1):  # the first round warms up, not counted
            for label, fn in (("direct", direct_call_statistics), ("rollups", call_statistics)):
                t0 = time.perf_counter()
                out[label] = fn(start=start, end=end)
                renderer.render(out[label])
                if i:
                    timings[label].append((time.perf_counter() - t0) * 1000)
        d, r = out["direct"], out["rollups"]
        same = d["counts"] == r["counts"] and d["calls"] == r["calls"] and d["target"] == r["target"]
        diffs = [0.0]
        for name, iv in d["intervals"].items():
            for p in ("p50", "p90", "p95"):
                if iv[p] is not None:
                    diffs.append(abs(r["intervals"][name][p] - iv[p]) / max(abs(iv[p]), 1.0))
        print(f"| {days} days ({d['calls']:,} calls) | {n} | {percentile(timings['direct'], 50):.0f} /"
              f" {percentile(timings['direct'], 99):.0f} | {percentile(timings['rollups'], 50):.1f} /"
              f" {percentile(timings['rollups'], 99):.1f} | {'yes' if same else 'NO'} | {max(diffs) * 100:.2f} % |",
              flush=True)


def machine():
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        (pg,) = cur.fetchone()
        cur.execute("SELECT postgis_lib_version()")
        (postgis,) = cur.fetchone()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{time.strftime('%Y-%m-%d %H:%M %Z')}; nproc {os.cpu_count()} ({model}); PostgreSQL {pg}, "
            f"PostGIS {postgis}; Python {platform.python_version()}; load average before run {load}")


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_http(cases, user, runs, concurrency):
    """The history cases through the production web command (Procfile: gunicorn with 2
    uvicorn workers) with `concurrency` supervisors paging at once, each with its own
    keep-alive connection and API token. The client runs on the same 2 cores."""
    import subprocess
    import threading

    import requests

    from accounts.tokens import issue_token

    token = issue_token(user)
    port = _free_port()
    env = {**os.environ, "DB_POOL_MAX_SIZE": "4"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.asgi:application", "-k", "uvicorn_worker.UvicornWorker",
         "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    base = f"http://127.0.0.1:{port}/api/v1/calls/"
    try:
        for _ in range(200):
            try:
                if requests.get(base, headers={"Authorization": f"Token {token}"}, timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("the web server did not answer")
        results = {name: [] for name, _ in cases}
        failures = []

        def client(k):
            session = requests.Session()
            session.headers["Authorization"] = f"Token {token}"
            for i in range(max(1, runs // concurrency) + 3):
                for name, params in cases[k % len(cases):] + cases[:k % len(cases)]:  # clients out of step
                    start = time.perf_counter()
                    try:
                        response = session.get(base, params=params, timeout=30)
                    except requests.RequestException as exc:
                        failures.append(f"{name}: {exc!r}")
                        continue
                    elapsed = (time.perf_counter() - start) * 1000
                    if response.status_code != 200:
                        failures.append(f"{name}: HTTP {response.status_code}")
                    elif i >= 3:  # 3 warm-up rounds per client, not counted
                        results[name].append(elapsed)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise SystemExit(f"{len(failures)} failed requests, first: {failures[0]}")
        return results
    finally:
        server.terminate()
        server.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50, help="timed requests per case (default 50)")
    parser.add_argument("--refill", action="store_true", help="truncate and fill again even if filled")
    parser.add_argument("--only", help="run only the cases whose name contains this")
    parser.add_argument("--gc-threshold", type=int, metavar="N",
                        help="model the web process (config/asgi.py): gc.freeze() after start-up and a gen-0 "
                             "threshold of N")
    parser.add_argument("--http", type=int, metavar="C",
                        help="also time the history cases through the production web server (gunicorn + 2 uvicorn "
                             "workers) with C concurrent supervisors")
    parser.add_argument("--http-only", action="store_true", help="with --http, skip the in-process timings")
    parser.add_argument("--stats-ab", action="store_true",
                        help="only /stats/' work before (direct) and after (rollups), interleaved")
    args = parser.parse_args()

    calls, assignments = counts()
    if args.refill or calls != N_CALLS:
        fill()
        calls, assignments = counts()
    elif not CallMetrics.objects.exists():  # filled before the metrics tables
        measure()
    if not StatsBlock.objects.exists():  # filled before the rollups
        roll_up()
    print(f"== call history over {calls:,} calls, {assignments:,} assignments (db {DB_NAME})")
    print(f"   {machine()}")
    if args.gc_threshold:
        gc.collect()
        gc.freeze()
        gc.set_threshold(args.gc_threshold, 10, 10)
    print(f"   garbage collector: {'frozen at start, thresholds ' + str(gc.get_threshold()) if args.gc_threshold else 'Python defaults ' + str(gc.get_threshold())}")

    supervisor = get_user_model().objects.get(username="bench-supervisor")
    unit_id = 2 * UNITS_PER_SERVICE + 7  # a fire unit
    phone, reference, newest = sample_values()
    week = {"received_after": (newest - datetime.timedelta(days=180)).isoformat(),
            "received_before": (newest - datetime.timedelta(days=173)).isoformat()}
    if args.stats_ab:
        time_stats_ab(newest, args.runs)
        return
    history = CallViewSet.as_view({"get": "list"})
    cases = [
        ("first page, no filter", {}),
        (f"deep page (row {N_CALLS * 9 // 10:,}) by cursor", {"cursor": cursor_at(N_CALLS * 9 // 10)}),
        ("status=closed", {"status": "closed"}),
        ("status=pending,dispatched", {"status": "pending,dispatched"}),
        ("priority=1", {"priority": "1"}),
        ("incident_type=gas_leak", {"incident_type": "gas_leak"}),
        ("service=fire", {"service": "fire"}),
        ("date range: one week, 6 months ago", week),
        ("date range + deep page (row 10,000 of the week)", {**week, "cursor": cursor_at(N_CALLS // 100, week)}),
        ("near=51.128,71.43,300", {"near": "51.128,71.43,300"}),
        ("bbox (1 km²)", {"bbox": "71.420,51.125,71.435,51.134"}),
        ("q=street (common)", {"q": "Кенесары"}),
        ("q=phone (one caller)", {"q": phone}),
        ("q=last 4 digits of a phone", {"q": phone[-4:]}),
        ("q=reference", {"q": reference}),
        ("q=description word", {"q": "газа"}),
        ("q=a word no call has", {"q": "xyzzy"}),
        ("unit=<a fire unit>", {"unit": unit_id}),
        ("operator=bench-op-07", {"operator": "bench-op-07"}),
        ("status+priority+service+week", {"status": "closed", "priority": "1", "service": "medical", **week}),
        ("type+near+week", {"incident_type": "cardiac_arrest", "near": "51.128,71.43,2000", **week}),
    ]
    stats = StatsView.as_view()
    stats_cases = [
        ("stats: last 7 days (default)", {}),
        ("stats: 30 days", {"received_after": (newest - datetime.timedelta(days=30)).isoformat(),
                            "received_before": newest.isoformat()}),
        ("stats: 365 days", {"received_after": (newest - datetime.timedelta(days=365)).isoformat(),
                             "received_before": newest.isoformat()}),
    ]
    rows_out = []
    for name, params in cases:
        if args.only and args.only not in name or args.http_only:
            continue
        timings, n = time_view(history, "/api/v1/calls/", params, supervisor, args.runs)
        rows_out.append((name, n, timings))
        print(f"   {name}: p50 {percentile(timings, 50):.1f} ms, p99 {percentile(timings, 99):.1f} ms", flush=True)
    for name, params in stats_cases:
        if args.only and args.only not in name or args.http_only:
            continue
        runs = 3 if "365" in name else max(5, args.runs // 5)  # a year takes seconds
        timings, n = time_view(stats, "/api/v1/stats/", params, supervisor, runs)
        rows_out.append((name, n, timings))
        print(f"   {name}: p50 {percentile(timings, 50):.1f} ms, p99 {percentile(timings, 99):.1f} ms", flush=True)

    worst = 0.0
    if rows_out:
        print()
        print("| case | rows | runs | p50 ms | p99 ms | max ms |")
        print("|---|---:|---:|---:|---:|---:|")
    for name, n, timings in rows_out:
        p99 = percentile(timings, 99)
        if not name.startswith("stats"):
            worst = max(worst, p99)
        print(f"| {name} | {n} | {len(timings)} | {percentile(timings, 50):.1f} | {p99:.1f} | {max(timings):.1f} |")
    if rows_out:
        print()
        print(f"history page worst p99: {worst:.1f} ms (SPEC: ≤ 150 ms) — {'OK' if worst <= 150 else 'OVER'}")

    if args.http:
        http_cases = [(name, params) for name, params in cases if not args.only or args.only in name]
        results = time_http(http_cases, supervisor, args.runs, args.http)
        print()
        print(f"== through HTTP: gunicorn + 2 uvicorn workers, {args.http} concurrent supervisors")
        print("| case | runs | p50 ms | p99 ms | max ms |")
        print("|---|---:|---:|---:|---:|")
        every = []
        for name, timings in results.items():
            every += timings
            print(f"| {name} | {len(timings)} | {percentile(timings, 50):.1f} | {percentile(timings, 99):.1f} "
                  f"| {max(timings):.1f} |")
        worst = max(percentile(t, 99) for t in results.values())
        print(f"| all cases together | {len(every)} | {percentile(every, 50):.1f} | {percentile(every, 99):.1f} "
              f"| {max(every):.1f} |")
        print()
        print(f"through HTTP, worst case p99: {worst:.1f} ms (SPEC: ≤ 150 ms) — {'OK' if worst <= 150 else 'OVER'}")


if __name__ == "__main__":
    main()
