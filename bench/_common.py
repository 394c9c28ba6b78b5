"""Shared set-up for the service-level benchmarks in bench/ (see bench/README.md).

Importing this module points Django at the benchmark database `dispatch_bench` and
Redis db 14 (unless DATABASE_URL / REDIS_URL are already set), refuses any database
whose name does not end in `_bench` (the scripts truncate tables), and calls
django.setup(). Subprocesses (Celery worker, uvicorn) get the same environment.
"""

import asyncio
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH_ENV = {
    "DATABASE_URL": "postgis://dispatch:dispatch@127.0.0.1:5432/dispatch_bench",
    "REDIS_URL": "redis://127.0.0.1:6379/14",
    # DEBUG=false: DEBUG keeps every SQL statement in memory and adds per-query cost.
    "DEBUG": "false",
    "SECRET_KEY": "bench-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz",
    "LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "config.settings",
}
for _k, _v in BENCH_ENV.items():
    os.environ.setdefault(_k, _v)
os.environ.pop("CELERY_BROKER_URL", None)  # broker = REDIS_URL (db 14)

_db_name = urlparse(os.environ["DATABASE_URL"]).path.lstrip("/")
if not _db_name.endswith("_bench"):
    sys.exit(f"refusing to run against database {_db_name!r}: benchmarks truncate tables; use a *_bench database")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

# Tables a benchmark fills; the catalogue, gazetteer and groups stay.
DATA_TABLES = [
    "dispatch_event", "dispatch_assignment", "calls_call_possible_duplicates", "calls_amlmessage",
    "calls_call", "units_unitposition", "units_unit", "knox_authtoken",
]


def clean_database():
    """Empty the tables the benchmarks fill (bench database only) and the bench Redis db."""
    with connection.cursor() as cur:
        cur.execute("TRUNCATE " + ", ".join(DATA_TABLES) + " RESTART IDENTITY CASCADE")
        bench_users = "SELECT id FROM auth_user WHERE username LIKE %s OR username LIKE %s"
        cur.execute(f"DELETE FROM auth_user_groups WHERE user_id IN ({bench_users})", ["bench-%", "unit-%"])
        cur.execute(f"DELETE FROM auth_user WHERE id IN ({bench_users})", ["bench-%", "unit-%"])
    flush_redis()


def flush_redis():
    import redis

    r = redis.Redis.from_url(os.environ["REDIS_URL"])
    r.flushdb()
    r.close()


# --- figures ------------------------------------------------------------------------------


def percentile(values, p):
    """Linear-interpolated percentile (p in 0..100) of a list of numbers."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(values):
    return {"n": len(values), "p50": percentile(values, 50), "p90": percentile(values, 90),
            "p99": percentile(values, 99), "max": max(values) if values else float("nan")}


def table(headers, rows):
    """Print a GitHub-style table (also pasteable into bench/README.md)."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    line = lambda row: "| " + " | ".join(c.rjust(w) for c, w in zip(row, widths)) + " |"  # noqa: E731
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print(line(row))


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def machine():
    """One paragraph describing where the figures were taken."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg = cur.fetchone()[0]
        cur.execute("SELECT postgis_lib_version()")
        postgis = cur.fetchone()[0]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{time.strftime('%Y-%m-%d %H:%M %Z')}; nproc {len(os.sched_getaffinity(0))} ({model}); "
            f"PostgreSQL {pg}, PostGIS {postgis}; Python {platform.python_version()}; "
            f"db {connection.settings_dict['NAME']}; load average before run {load}")


def print_machine(title):
    print(f"== {title}")
    print(f"   {machine()}")


def print_load_after():
    """The machine is shared: a load average well above nproc means the figures are pessimistic."""
    print("-- load average after run: " + " ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" (nproc {len(os.sched_getaffinity(0))})")


# --- real processes -------------------------------------------------------------------------

_LOG_DIR = None  # a temporary directory, made when the first subprocess starts


def _log_dir():
    global _LOG_DIR
    if _LOG_DIR is None:
        _LOG_DIR = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    return _LOG_DIR


class Proc:
    """A subprocess in its own session with its output in a temporary log."""

    def __init__(self, name, args):
        self.name = name
        self.log_path = _log_dir() / f"{name}.log"
        self.log = open(self.log_path, "w")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def output(self):
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout=15):
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self.log.close()

    def problems(self):
        """Log lines that look like errors (printed in the report, never asserted)."""
        keys = ("Traceback", "ERROR", "Error", "CRITICAL", "WARNING", "Exception")
        return [line for line in self.output().splitlines() if any(k in line for k in keys)]


def start_worker(concurrency=2):
    proc = Proc("worker", [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
                           "--concurrency", str(concurrency), "--without-gossip", "--without-mingle",
                           "-n", "bench@%h"])
    _wait(proc, lambda: "ready." in proc.output(), "celery worker")
    return proc


def free_port():
    """A free local port; from BENCH_PORTS ("8220-8239") when set, so that benchmarks run by
    several people on one machine stay in their own ranges."""
    ports = os.environ.get("BENCH_PORTS")
    candidates = [0]
    if ports:
        lo, _, hi = ports.partition("-")
        candidates = range(int(lo), int(hi or lo) + 1)
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError(f"no free port in BENCH_PORTS={ports}")


def start_uvicorn(port=None, workers=1):
    port = port or free_port()
    args = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log"]
    if workers > 1:
        args += ["--workers", str(workers)]
    proc = Proc(f"uvicorn-{port}", args)
    proc.port = port

    def up():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    _wait(proc, up, "uvicorn")
    if workers > 1:
        time.sleep(2.0)  # let every worker process finish importing Django
    return proc


def _wait(proc, ready, what, timeout=40):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if proc.popen.poll() is not None:
            break
        time.sleep(0.2)
    proc.stop()
    raise RuntimeError(f"{what} did not start:\n" + proc.output()[-3000:])


def tree_cpu_seconds(pid):
    """User+system CPU seconds of a process and its direct children (uvicorn --workers, celery pool)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def report_problems(*procs):
    for proc in procs:
        lines = proc.problems()
        print(f"-- {proc.name} log: {len(lines)} error/warning line(s)")
        for line in lines[:15]:
            print("   " + line[:300])


def remove_logs():
    """Delete the subprocess logs, unless BENCH_KEEP_LOGS=1 (then say where they are)."""
    if _LOG_DIR is None:
        return
    if os.environ.get("BENCH_KEEP_LOGS") == "1":
        print(f"-- subprocess logs kept in {_LOG_DIR}")
    else:
        shutil.rmtree(_LOG_DIR, ignore_errors=True)


# --- fixtures ----------------------------------------------------------------------------

ASTANA = (51.05, 51.25, 71.30, 71.60)  # lat min, lat max, lon min, lon max


def random_point(rng):
    from django.contrib.gis.geos import Point

    return Point(rng.uniform(ASTANA[2], ASTANA[3]), rng.uniform(ASTANA[0], ASTANA[1]), srid=4326)


def bulk_units(n, rng, fleet=None, available=1.0, prefix="B"):
    """bulk_create n units with fresh positions over Astana, then ANALYZE.

    fleet: {service: [capability lists]}; each unit gets a random service and one of its
    lists. `available` is the share of units that are available (the rest busy or off).
    """
    from django.utils import timezone

    from units.models import Unit

    fleet = fleet or {"medical": [["als"]]}
    services = sorted(fleet)
    now = timezone.now()
    batch = []
    for i in range(n):
        service = rng.choice(services)
        status = "available" if rng.random() < available else rng.choice(["dispatched", "out_of_service"])
        batch.append(Unit(callsign=f"{prefix}-{i:06d}", service=service, capabilities=list(rng.choice(fleet[service])),
                          status=status, status_changed_at=now, location=random_point(rng),
                          location_recorded_at=now, location_accuracy_m=10.0))
        if len(batch) == 5000:
            Unit.objects.bulk_create(batch)
            batch = []
    Unit.objects.bulk_create(batch)
    with connection.cursor() as cur:
        cur.execute("ANALYZE units_unit")


# --- a small keep-alive HTTP/1.1 client on asyncio streams (no dependency, cheap per request) ---


class Http:
    """One keep-alive connection to 127.0.0.1:port; `await request(...)` -> (status, body bytes)."""

    def __init__(self, port, token=None):
        self.port = port
        self.headers = f"Host: 127.0.0.1:{port}\r\nAccept: application/json\r\n"
        if token:
            self.headers += f"Authorization: Token {token}\r\n"
        self.reader = self.writer = None

    async def request(self, method, path, json_body=None):
        import json

        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        body = b"" if json_body is None else json.dumps(json_body).encode()
        head = f"{method} {path} HTTP/1.1\r\n{self.headers}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        if not status_line:  # the server closed an idle keep-alive connection: reconnect once
            await self.close()
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.writer.write(head.encode() + body)
            status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length, chunked, close = None, False, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            data = b""
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                data += chunk[:-2]
        else:
            data = await self.reader.readexactly(length or 0)
        if close:
            await self.close()
        return status, data

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = self.reader = None
