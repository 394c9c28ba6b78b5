"""Chaos proof (issue 12): steady calls and crews while the processes die one after another.

    .venv/bin/python bench/chaos.py [--calls-per-s 2] [--units 60] [--baseline-s 15] [--window-s 25]
        [--lead-s 5] [--faults worker,beat,web,redis,postgres] [--redis-down-s 3] [--normal-s 2]
        [--seed 112] [--json FILE]

Everything it runs is private to the run and stopped on exit (Ctrl+C included):
- PostgreSQL database `dispatch_chaos_bench`, dropped and created afresh, then
  `manage.py migrate` (left in place afterwards so the call ids in the report can be read);
- its own `redis-server` on a free port (`--save "" --appendonly no`), never the shared one;
- supervisord with deploy/supervisord.local.conf: the Procfile's web (gunicorn with
  WEB_CONCURRENCY=2 uvicorn workers), worker (CELERY_CONCURRENCY=2) and beat through
  scripts/proc, DISPATCH_SWEEP_INTERVAL_S=1.

Load, through the public API only:
- an operator posts calls at a steady --calls-per-s (one task per call, so a slow answer never
  delays the next one), police-only incident types in turn, every spot at least 250 m from any
  other of the same type (never held as a possible duplicate). Each call carries its sequence
  number in `description`, so the database is searched for it whatever the HTTP answer was.
  503 (Retry-After) and connection errors are retried like a console, for up to --give-up-s;
- --units police units, made through the supervisor API (`POST /units/`, `/units/{id}/token/`)
  and brought `available` through the device API; one task per crew polls `GET /me/`, then
  `/acknowledge/`, `/arrive/` after 1-2 s, `/clear/` after 2-4 s on scene, reports its new
  position (the call's spot) and hands the call to the operator, who closes it. A crew whose
  assignment timed out reports `available` again. 503 and network errors: retry later;
- an operator websocket on /ws/events/?since=<last id> that reconnects after every close;
- GET /healthz twice a second;
- pg_blocking_pids() sampled twice a second: lock waits over 0.5 s, with the backend (and,
  through /proc, the process) that holds them up.

Windows: a fault-free baseline, then one window per fault: --lead-s of steady state, the
fault, recovery and steady state until --window-s:
  worker    SIGKILL of the Celery worker's main process (supervisord's pid for `worker`)
  beat      SIGKILL of beat
  web       SIGKILL of one of the two gunicorn workers: the one serving the operator socket
  redis     SIGKILL of redis-server, started again on the same port after --redis-down-s
  postgres  pg_terminate_backend() of every backend of the bench database (the app role's: all but autovacuum)

Afterwards calls stop, the crews keep working until every stored call is dispatched (at most
--drain-s), and the database is read back. Per window (calls by their first send, events by
their journal time, double assignments by the later assignment):
  sent / 201 / stored / dispatched   calls; "lost" = answered 201 or stored, but never
                                     dispatched (or 201 and not stored); "not taken" = no 201
                                     and not stored (the operator was told, after retrying)
  double                             the journal replayed in commit order: an assignment that
                                     became active while its unit had another active one; plus
                                     calls with more live assignments of a service than their plan
  ts overlap                         the same asked of the stored timestamps: two assignments of
                                     one unit whose [assigned_at, ended_at) overlap (reported, but
                                     a stale timestamp is not a double: see bench/README.md)
  ws missed / dup                    journal rows (dispatch_event) never received on the
                                     socket; ids received twice or out of order
  recovery                           seconds from the fault until the first call sent after it
                                     was dispatched within --normal-s of its POST, and until
                                     /healthz answered 200 again (after its last non-200 in the
                                     window); the larger of the two. Goal: <= 10 s.
"""

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import xmlrpc.client
from datetime import UTC, datetime
from pathlib import Path

DB_NAME = "dispatch_chaos_bench"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Private services only, whatever the shell says: this script kills Redis and every
# connection of its database.
REDIS_PORT = _free_port()
os.environ["DATABASE_URL"] = f"postgis://dispatch:dispatch@127.0.0.1:5432/{DB_NAME}"
os.environ["REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"
os.environ.pop("DISPATCH_ENV_FILE", None)

import _common  # noqa: E402  (Django set up against DB_NAME)
import psycopg  # noqa: E402
import websockets  # noqa: E402
from _common import ROOT, Proc, percentile, print_load_after, remove_logs, table  # noqa: E402

VENV_BIN = Path(sys.executable).parent
PG = {"host": "127.0.0.1", "port": 5432, "user": "dispatch", "password": "dispatch"}
# Police-only plans of one unit: a call needs exactly one unit, so capacity is easy to reason about.
TYPES = ["traffic_accident", "burglary", "missing_person", "public_disorder", "noise_complaint"]
BOX = (51.09, 51.18, 71.35, 71.50)  # lat min, lat max, lon min, lon max (Astana)
NET_ERRORS = (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError, IndexError)
LIVE = ("assigned", "acknowledged", "on_scene", "cleared")  # an assignment that was (or is) a real dispatch
FAULTS = ("worker", "beat", "web", "redis", "postgres")


# --- the database ------------------------------------------------------------------------------


# The app role is not a superuser (issue 14): it creates its database from the template that
# scripts/bootstrap.sh made with the extensions in it, and may end only its own backends.
DB_TEMPLATE = os.environ.get("DATABASE_TEST_TEMPLATE") or "dispatch_template"


def pg_admin():
    """The app role on the maintenance database (to drop and create the bench database)."""
    return psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **PG)


def pg_bench():
    return psycopg.connect(dbname=DB_NAME, autocommit=True, connect_timeout=5, **PG)


def fresh_database():
    with pg_admin() as conn:
        # DROP DATABASE itself cancels autovacuum there; other backends are the role's own.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND usename = current_user",
            [DB_NAME],
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}"')
        conn.execute(f'CREATE DATABASE "{DB_NAME}" OWNER dispatch TEMPLATE "{DB_TEMPLATE}"')
    manage("migrate", "--noinput", "-v", "0")


def terminate_backends():
    """Every backend of the bench database (web pools, worker, beat's leader lock); returns how many."""
    with pg_admin() as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND usename = current_user AND pid <> pg_backend_pid()",
            [DB_NAME],
        ).fetchall()
    return sum(1 for (ok,) in rows if ok)


# Backends of the bench database waiting > 0.5 s for a lock, with the backend that blocks them.
LOCK_WAITS = """
SELECT round(extract(epoch FROM now() - w.query_start)::numeric, 2), left(w.query, 120),
       b.pid, b.state, round(extract(epoch FROM now() - b.xact_start)::numeric, 2), b.client_port,
       left(b.query, 160)
FROM pg_stat_activity w
CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocker(pid)
JOIN pg_stat_activity b ON b.pid = blocker.pid
WHERE w.datname = %s AND w.wait_event_type = 'Lock' AND w.query_start < now() - interval '0.5 s'
"""


def manage(*args):
    out = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if out.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stdout[-2000:]}{out.stderr[-3000:]}")
    return out.stdout


def create_account(name, role):
    return manage("create_account", name, "--role", role).strip().splitlines()[-1].strip()


# --- processes -----------------------------------------------------------------------------------


def _proc_table():
    """{pid: (ppid, cmdline)} of every process visible here."""
    procs = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if stat[0] != "Z":
            procs[int(entry.name)] = (int(stat[1]), cmd)
    return procs


def children(pid):
    return sorted(p for p, (ppid, _) in _proc_table().items() if ppid == pid)


def descendants(pid):
    table_ = _proc_table()
    found, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for p, (ppid, cmd) in table_.items():
            if ppid == parent and p not in found:
                found[p] = cmd
                todo.append(p)
    return found


def alive_as(pid, cmd):
    """The process is still running the same command (guards against a reused pid)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace"
        ).strip() == cmd and (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z")
    except OSError:
        return False


def socket_owner(pids, server_port, client_port):
    """Which of `pids` holds the server side of the TCP connection 127.0.0.1:client_port -> server_port."""
    want_local, want_remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if f[1] == want_local and f[2] == want_remote:
            inode = f[9]
            break
    if inode is None:
        return None
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
        except OSError:
            continue
    return None


class Stack:
    """Private redis-server and supervisord (web, worker, beat), with time-stamped output."""

    def __init__(self, args):
        from _common import _log_dir

        self.dir = _log_dir()
        self.run_dir = self.dir / "run"
        self.run_dir.mkdir()
        self.port = _free_port()
        self.env = dict(
            os.environ,
            PORT=str(self.port),
            DISPATCH_RUN_DIR=str(self.run_dir),
            WEB_CONCURRENCY="2",
            CELERY_CONCURRENCY="2",
            DISPATCH_SWEEP_INTERVAL_S=str(args.sweep_s),
            DEBUG="false",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            PATH=f"{VENV_BIN}:{os.environ['PATH']}",
            PYTHONUNBUFFERED="1",
        )
        self.redis = None
        self.redis_starts = 0
        self.sup = None
        self.reader = None
        self.lines = []  # (wall time, line): everything supervisord and its programs printed
        self.started = {}  # pid -> cmdline of every process of this run seen so far (for the cleanup)

    # redis
    def start_redis(self):
        self.redis_starts += 1
        self.redis = Proc(
            f"redis-{self.redis_starts}",
            ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", REDIS_PORT), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start:\n" + self.redis.output()[-2000:])

    def kill_redis(self):
        pid = self.redis.popen.pid
        os.kill(pid, signal.SIGKILL)
        self.redis.popen.wait()
        self.redis.log.close()
        return pid

    # supervisord
    def start_supervisord(self):
        self.log_path = self.dir / "supervisord.out"
        self.sup = subprocess.Popen(
            [str(VENV_BIN / "supervisord"), "-c", str(ROOT / "deploy/supervisord.local.conf")],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True, name="supervisord output")
        self.reader.start()

    def _read(self):
        with open(self.log_path, "w", buffering=1) as log:
            for raw in self.sup.stdout:
                t = time.time()
                line = raw.decode(errors="replace").rstrip("\n")
                self.lines.append((t, line))
                log.write(f"{clock(t)} {line}\n")

    def rpc(self):
        from supervisor.xmlrpc import SupervisorTransport

        transport = SupervisorTransport(None, None, f"unix://{self.run_dir}/supervisor.sock")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def pid(self, name):
        """What `supervisorctl pid NAME` prints (same XML-RPC call), None while it is not running."""
        try:
            return self.rpc().supervisor.getProcessInfo(name)["pid"] or None
        except (OSError, xmlrpc.client.Error):
            return None

    def owner(self, client_port):
        """Which process holds the client side of a PostgreSQL connection (by its port); this run's first."""
        if not client_port or self.sup is None:
            return None
        want = f"0100007F:{client_port:04X}"
        inode = next(
            (
                f[9]
                for f in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
                if f[1] == want
            ),
            None,
        )
        if inode is None:
            return None
        mine = descendants(self.sup.pid)
        others = {pid: cmd for pid, (_, cmd) in _proc_table().items() if pid not in mine}
        for pid, cmd in [*mine.items(), *others.items()]:
            try:
                if any(os.readlink(fd) == f"socket:[{inode}]" for fd in Path(f"/proc/{pid}/fd").iterdir()):
                    return f"{pid} {program_of(cmd)}"
            except OSError:
                continue
        return None

    def remember(self):
        if self.sup is not None and self.sup.poll() is None:
            self.started.update(descendants(self.sup.pid))

    def stop(self):
        if self.sup is not None:
            self.remember()
            if self.sup.poll() is None:
                self.sup.send_signal(signal.SIGTERM)  # stops web, worker and beat (stopasgroup)
                try:
                    self.sup.wait(45)
                except subprocess.TimeoutExpired:
                    self.sup.kill()
                    self.sup.wait()
            for pid, cmd in self.started.items():  # anything left: orphans of killed processes
                if alive_as(pid, cmd):
                    print(f"-- killing leftover process {pid}: {cmd[:100]}")
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            if self.reader is not None:
                self.reader.join(5)
        if self.redis is not None:
            self.redis.stop()


def program_of(cmd):
    if "celery" in cmd:
        return "celery beat" if " beat" in cmd else "celery worker"
    return "gunicorn/uvicorn" if "gunicorn" in cmd else cmd[:40]


def clock(t):
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d}"


# --- HTTP ------------------------------------------------------------------------------------------


class Http:
    """One keep-alive HTTP/1.1 connection with a timeout. Any error closes it and is raised: the
    caller decides whether to retry (never silently re-sent, unlike _common.Http)."""

    def __init__(self, port, token=None):
        self.port = port
        self.head = f"Host: 127.0.0.1:{port}\r\nAccept: application/json\r\n"
        if token:
            self.head += f"Authorization: Token {token}\r\n"
        self.reader = self.writer = None

    async def request(self, method, path, body=None, timeout=10.0):
        try:
            return await asyncio.wait_for(self._request(method, path, body), timeout)
        except BaseException:
            self.close()
            raise

    async def _request(self, method, path, body):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        data = b"" if body is None else json.dumps(body).encode()
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\n{self.head}Content-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        status = int((await self.reader.readline()).split()[1])
        headers = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            payload = b""
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                payload += chunk[:-2]
        else:
            payload = await self.reader.readexactly(int(headers.get("content-length", 0)))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, payload

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = self.reader = None


def retry_after(headers, default=1.0):
    try:
        return min(max(float(headers.get("retry-after", default)), 0.2), 5.0)
    except ValueError:
        return default


class Restart(Exception):
    """The crew's assignment changed under it (409/404) or the server stayed unreachable: re-read /me/."""


# --- the load ----------------------------------------------------------------------------------------


class Load:
    def __init__(self, args, stack, op_token, sup_token):
        self.args = args
        self.port = stack.port
        self.stack = stack
        self.op_token = op_token
        self.sup_token = sup_token
        self.rng = random.Random(args.seed)
        self.calls = []  # one record per call the operator tried to log
        self.units = []
        self.health = []  # (t, status or error name, what was down)
        self.lock_waits = []  # [t, waiting s, waiter query, blocker pid, state, xact s, client port, query, owner]
        self.feed = None
        self.journal_cut = None  # the journal's last id when the crews stopped (the socket had it all)
        self.stop_calls = False
        self.stop_all = False
        self.to_close = asyncio.Queue()
        self.tasks = []
        self.call_tasks = set()
        # spots: a 300 m grid with +-25 m jitter; call n of a type takes its own cell, so two
        # calls of one type are >= 250 m apart (duplicate radius 150 m + accuracy 2 x 10 m)
        lat_step, lon_step = 300 / 111_320, 300 / 69_930
        self.cells = [
            (BOX[0] + (i + 0.5) * lat_step, BOX[2] + (j + 0.5) * lon_step)
            for i in range(int((BOX[1] - BOX[0]) / lat_step))
            for j in range(int((BOX[3] - BOX[2]) / lon_step))
        ]
        self.rng.shuffle(self.cells)

    def spot(self, seq):
        lat, lon = self.cells[(seq // len(TYPES)) % len(self.cells)]
        return round(lat + self.rng.uniform(-25, 25) / 111_320, 6), round(lon + self.rng.uniform(-25, 25) / 69_930, 6)

    # --- set-up
    async def make_units(self):
        sup = Http(self.port, self.sup_token)
        for i in range(self.args.units):
            status, _, data = await sup.request(
                "POST", "/api/v1/units/", {"callsign": f"CH-P-{i + 1:03d}", "service": "police"}
            )
            if status != 201:
                raise RuntimeError(f"POST /units/ -> {status}: {data[:300]!r}")
            unit = {
                "id": json.loads(data)["id"],
                "callsign": f"CH-P-{i + 1:03d}",
                "lat": self.rng.uniform(BOX[0], BOX[1]),
                "lon": self.rng.uniform(BOX[2], BOX[3]),
            }
            status, _, data = await sup.request("POST", f"/api/v1/units/{unit['id']}/token/")
            if status != 200:
                raise RuntimeError(f"POST /units/{unit['id']}/token/ -> {status}: {data[:300]!r}")
            unit["token"] = json.loads(data)["token"]
            self.units.append(unit)
        sup.close()

        async def on_duty(unit):
            http = Http(self.port, unit["token"])
            await self.report_position(http, unit)
            status, _, data = await http.request("POST", "/api/v1/me/status/", {"status": "available"})
            if status != 200:
                raise RuntimeError(f"POST /me/status/ -> {status}: {data[:300]!r}")
            http.close()

        for start in range(0, len(self.units), 10):
            await asyncio.gather(*(on_duty(u) for u in self.units[start : start + 10]))

    async def report_position(self, http, unit):
        fix = {"lat": unit["lat"], "lon": unit["lon"], "accuracy_m": 10, "recorded_at": datetime.now(UTC).isoformat()}
        status, _, data = await http.request("POST", "/api/v1/me/location/", fix)
        if status != 200 and status != 503:
            raise RuntimeError(f"POST /me/location/ -> {status}: {data[:300]!r}")
        return status == 200

    # --- the operator's calls
    async def caller(self):
        interval = 1.0 / self.args.calls_per_s
        t0 = time.monotonic()
        seq = 0
        while not self.stop_calls:
            await asyncio.sleep(max(0.0, t0 + seq * interval - time.monotonic()))
            if self.stop_calls:
                break
            task = asyncio.create_task(self.send_call(seq))
            self.call_tasks.add(task)
            task.add_done_callback(self.call_tasks.discard)
            seq += 1

    async def send_call(self, seq):
        itype = TYPES[seq % len(TYPES)]
        lat, lon = self.spot(seq)
        rec = {
            "seq": seq,
            "incident_type": itype,
            "lat": lat,
            "lon": lon,
            "sent_at": time.time(),
            "attempts": [],
            "call_id": None,
            "answered_at": None,
        }
        self.calls.append(rec)
        body = {
            "incident_type": itype,
            "caller_phone": f"+7701{seq:07d}",
            "description": f"chaos call #{seq}",
            "location": {"lat": lat, "lon": lon, "accuracy_m": 10, "source": "operator"},
        }
        while True:
            http = Http(self.port, self.op_token)
            t = time.time()
            wait = 1.0
            try:
                status, headers, data = await http.request("POST", "/api/v1/calls/", body, timeout=10)
            except NET_ERRORS as exc:
                rec["attempts"].append([round(t, 3), type(exc).__name__])
            else:
                rec["attempts"].append([round(t, 3), status])
                if status == 201:
                    rec["call_id"] = json.loads(data)["id"]
                    rec["answered_at"] = time.time()
                    return
                if status < 500:
                    rec["refused"] = data[:300].decode(errors="replace")
                    return
                wait = retry_after(headers)
            finally:
                http.close()
            if time.time() + wait > rec["sent_at"] + self.args.give_up_s:
                return
            await asyncio.sleep(wait)

    async def closer(self):
        """The operator closes each call its crew has cleared (503: later)."""
        http = Http(self.port, self.op_token)
        while True:
            call_id = await self.to_close.get()
            for _ in range(30):
                try:
                    status, headers, _ = await http.request(
                        "POST", f"/api/v1/calls/{call_id}/close/", {"disposition": "resolved"}
                    )
                except NET_ERRORS:
                    await asyncio.sleep(1)
                    continue
                if status < 500:
                    break
                await asyncio.sleep(retry_after(headers))

    # --- crews
    async def crew(self, unit):
        rng = random.Random(f"{self.args.seed}-{unit['id']}")
        http = Http(self.port, unit["token"])
        next_fix = time.monotonic() + rng.uniform(20, 60)
        await asyncio.sleep(rng.uniform(0, self.args.crew_poll_s))
        while not self.stop_all:
            try:
                if time.monotonic() >= next_fix and await self.report_position(http, unit):
                    next_fix = time.monotonic() + 60  # stay fresh (DISPATCH_STALE_LOCATION_S 300)
                status, headers, data = await http.request("GET", "/api/v1/me/")
                if status != 200:
                    await asyncio.sleep(retry_after(headers))
                    continue
                me = json.loads(data)
                if me["assignment"] is not None:
                    await self.work(http, unit, me["assignment"], me["call"], rng)
                    continue
                if me["unit"]["status"] in ("unreachable", "out_of_service", "transporting"):
                    unit["timed_out"] = unit.get("timed_out", 0) + (me["unit"]["status"] == "unreachable")
                    await self.step(http, "/api/v1/me/status/", {"status": "available"})
                    continue
                await asyncio.sleep(self.args.crew_poll_s * rng.uniform(0.75, 1.25))
            except NET_ERRORS:
                await asyncio.sleep(1.0)
            except Restart:
                await asyncio.sleep(0.2)
            except (KeyError, TypeError, RuntimeError) as exc:  # an answer this crew did not expect
                unit["errors"] = unit.get("errors", 0) + 1
                if unit["errors"] <= 3:
                    print(f"   crew {unit['callsign']}: {type(exc).__name__}: {exc}"[:300])
                await asyncio.sleep(1.0)

    async def work(self, http, unit, assignment, call, rng):
        base = f"/api/v1/assignments/{assignment['id']}"
        state = assignment["status"]
        if state == "assigned":
            await self.step(http, f"{base}/acknowledge/")
            await asyncio.sleep(rng.uniform(1, 2))  # en route
            state = "acknowledged"
        if state == "acknowledged":
            await self.step(http, f"{base}/arrive/")
            await asyncio.sleep(rng.uniform(2, 4))  # on scene
        await self.step(http, f"{base}/clear/", {"transporting": False})
        if call and call.get("location"):
            unit["lat"], unit["lon"] = call["location"]["lat"], call["location"]["lon"]
            try:
                await self.report_position(http, unit)
            except NET_ERRORS:
                pass
        unit["jobs"] = unit.get("jobs", 0) + 1
        self.to_close.put_nowait(assignment["call"])

    async def step(self, http, path, body=None):
        """POST a crew action until it is answered (repeating a done transition is a no-op)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not self.stop_all:
            try:
                status, headers, _ = await http.request("POST", path, body if body is not None else {})
            except NET_ERRORS:
                await asyncio.sleep(1.0)
                continue
            if status == 200:
                return
            if status in (404, 409):
                raise Restart
            await asyncio.sleep(retry_after(headers))
        raise Restart

    # --- health
    async def healthz(self):
        while not self.stop_all:
            t = time.time()
            http = Http(self.port)
            try:
                status, _, data = await http.request("GET", "/healthz", timeout=5)
                down = []
                if status != 200:
                    try:
                        report = json.loads(data)
                        down = [k for k, v in report.items() if isinstance(v, dict) and v.get("ok") is False]
                    except ValueError:
                        pass
                self.health.append((t, status, down))
            except NET_ERRORS as exc:
                self.health.append((t, type(exc).__name__, []))
            finally:
                http.close()
            await asyncio.sleep(max(0.0, t + 0.5 - time.time()))

    # --- lock waits (diagnostics: who holds up whom, sampled twice a second)
    async def lock_watch(self):
        conn = None
        while not self.stop_all:
            t = time.time()
            try:
                if conn is None or conn.closed:
                    conn = await asyncio.to_thread(pg_admin)  # the postgres database: never terminated
                rows = await asyncio.to_thread(self._lock_waits, conn)
                self.lock_waits += [[round(t, 3), *row] for row in rows]
            except psycopg.Error:
                conn = None
            await asyncio.sleep(max(0.0, t + 0.5 - time.time()))
        if conn is not None:
            conn.close()

    def _lock_waits(self, conn):
        return [[*row, self.stack.owner(row[5])] for row in conn.execute(LOCK_WAITS, [DB_NAME]).fetchall()]

    def start(self):
        self.tasks += [asyncio.create_task(self.crew(u)) for u in self.units]
        self.tasks += [asyncio.create_task(self.closer()), asyncio.create_task(self.healthz())]
        self.tasks.append(asyncio.create_task(self.lock_watch()))

    async def stop(self):
        if self.stop_all:
            return
        self.stop_all = True
        for task in [*self.tasks, *self.call_tasks]:
            task.cancel()
        await asyncio.gather(*self.tasks, *self.call_tasks, return_exceptions=True)


class Feed:
    """An operator socket that resumes with ?since=<last id> after every close, like the console."""

    def __init__(self, port, token, since):
        self.port = port
        self.token = token
        self.since = since  # the journal is compared from here
        self.last_id = since
        self.received = []  # (id, wall time)
        self.closes = []  # (wall time, close code or error)
        self.resyncs = 0
        self.client_port = None

    async def run(self):
        while True:
            url = f"ws://127.0.0.1:{self.port}/ws/events/?since={self.last_id}"
            try:
                async with websockets.connect(
                    url,
                    additional_headers={"Authorization": f"Token {self.token}"},
                    open_timeout=10,
                    ping_interval=5,
                    ping_timeout=5,
                    max_queue=None,
                ) as ws:
                    self.client_port = ws.local_address[1]
                    async for raw in ws:
                        msg = json.loads(raw)
                        if msg.get("type") == "resync":
                            self.resyncs += 1
                            self.last_id = msg["last_id"]
                        elif msg.get("id") is not None:
                            self.received.append((msg["id"], time.time()))
                            self.last_id = max(self.last_id, msg["id"])
                self.closes.append((time.time(), ws.close_code))
            except websockets.exceptions.ConnectionClosed as exc:
                self.closes.append((time.time(), exc.rcvd.code if exc.rcvd else "no close frame"))
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
                self.closes.append((time.time(), type(exc).__name__))
            self.client_port = None
            await asyncio.sleep(0.2)


# --- faults ----------------------------------------------------------------------------------------


async def wait_until(predicate, timeout, step=0.1):
    """Seconds until predicate() is true (None if it never was within timeout)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if await asyncio.to_thread(predicate):
            return round(time.monotonic() - t0, 2)
        await asyncio.sleep(step)
    return None


async def inject(name, stack, load, args):
    info = {"fault": name, "at": time.time()}
    stack.remember()
    if name in ("worker", "beat"):
        pid = stack.pid(name)
        info["killed"] = [pid]
        if name == "worker":
            info["pool"] = children(pid)
        info["at"] = time.time()
        os.kill(pid, signal.SIGKILL)
        info["process_back_s"] = await wait_until(lambda: stack.pid(name) not in (None, pid), 60)
        ready = "ready." if name == "worker" else "beat: Starting"
        info["ready_s"] = await wait_until(
            lambda: any(t > info["at"] and ready in line for t, line in stack.lines[-2000:]), 60, 0.2
        )
    elif name == "web":
        master = stack.pid("web")
        workers = children(master)
        feed_port = load.feed.client_port
        victim = socket_owner(workers, stack.port, feed_port) if feed_port else None
        info["holds_operator_socket"] = victim is not None
        victim = victim or workers[0]
        info["killed"] = [victim]
        info["at"] = time.time()
        os.kill(victim, signal.SIGKILL)
        info["process_back_s"] = await wait_until(
            lambda: len([p for p in children(master) if p != victim]) >= len(workers), 60
        )
    elif name == "redis":
        info["killed"] = [stack.kill_redis()]
        await asyncio.sleep(args.redis_down_s)
        await asyncio.to_thread(stack.start_redis)
        info["process_back_s"] = round(time.time() - info["at"], 2)
    elif name == "postgres":
        info["terminated_backends"] = await asyncio.to_thread(terminate_backends)
        info["process_back_s"] = 0.0
    else:
        raise ValueError(name)
    return info


# --- the run -----------------------------------------------------------------------------------------


async def drive(args, stack, op_token, sup_token):
    load = Load(args, stack, op_token, sup_token)
    await load.make_units()
    with pg_bench() as conn:
        since = conn.execute("SELECT coalesce(max(id), 0) FROM dispatch_event").fetchone()[0]
    load.feed = Feed(stack.port, op_token, since)
    feed_task = asyncio.create_task(load.feed.run())
    load.start()
    windows = []
    try:
        caller = asyncio.create_task(load.caller())
        print(f"-- {len(load.units)} units on duty; calls at {args.calls_per_s}/s; baseline {args.baseline_s} s")
        w = {"fault": "baseline", "start": time.time(), "at": None}
        await asyncio.sleep(args.baseline_s)
        w["end"] = time.time()
        windows.append(w)
        for name in args.faults:
            start = time.time()
            await asyncio.sleep(args.lead_s)
            w = {"start": start, **await inject(name, stack, load, args)}
            print(
                f"   {clock(w['at'])} {name}: killed {w.get('killed') or w.get('terminated_backends')}, "
                f"process back after {w.get('process_back_s')} s"
            )
            await asyncio.sleep(max(0.0, start + args.window_s - time.time()))
            w["end"] = time.time()
            windows.append(w)
        load.stop_calls = True
        await caller
        t_drain = time.time()
        if load.call_tasks:
            await asyncio.gather(*list(load.call_tasks), return_exceptions=True)
        done = await wait_until(lambda: undispatched() == 0, args.drain_s, 0.5)
        print(
            f"-- drain: {'all stored calls dispatched' if done is not None else 'NOT all calls dispatched'} "
            f"{round(time.time() - t_drain, 1)} s after the last call was sent"
        )
        stack.remember()
        await load.stop()  # crews stop: the journal goes quiet, the socket must reach its end
        cut = await asyncio.to_thread(journal_max)
        caught = await wait_until(lambda: load.feed.last_id >= cut, 30, 0.2)
        load.journal_cut = cut if caught is not None else None
    finally:
        await load.stop()
        feed_task.cancel()
        await asyncio.gather(feed_task, return_exceptions=True)
    return load, windows


def undispatched():
    """Stored calls (this run's only) that never had an assignment."""
    try:
        with pg_bench() as conn:
            return conn.execute(
                "SELECT count(*) FROM calls_call c WHERE NOT EXISTS "
                "(SELECT 1 FROM dispatch_assignment a WHERE a.call_id = c.id)"
            ).fetchone()[0]
    except psycopg.Error:
        return -1


def journal_max():
    with pg_bench() as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM dispatch_event").fetchone()[0]


# --- figures ------------------------------------------------------------------------------------------


def ts(value):
    return value.timestamp() if value is not None else None


def read_back(since):
    with pg_bench() as conn:
        calls = conn.execute(
            "SELECT c.id, c.description, c.status, c.hold_reason, it.code FROM calls_call c "
            "JOIN calls_incidenttype it ON it.id = c.incident_type_id ORDER BY c.id"
        ).fetchall()
        assignments = conn.execute(
            "SELECT call_id, status, service, assigned_at FROM dispatch_assignment ORDER BY id"
        ).fetchall()
        plans = conn.execute(
            "SELECT it.code, pl.service, pl.count FROM calls_responseplanline pl "
            "JOIN calls_incidenttype it ON it.id = pl.incident_type_id"
        ).fetchall()
        # by the timestamps stored on the rows: [assigned_at, ended_at) of one unit's assignments
        overlaps = conn.execute(
            "SELECT a.unit_id, a.id, b.id, greatest(a.assigned_at, b.assigned_at), "
            "extract(epoch FROM least(coalesce(a.ended_at, 'infinity'), coalesce(b.ended_at, 'infinity')) "
            "  - greatest(a.assigned_at, b.assigned_at)) FROM dispatch_assignment a "
            "JOIN dispatch_assignment b ON a.unit_id = b.unit_id AND a.id < b.id "
            "AND tstzrange(a.assigned_at, coalesce(a.ended_at, 'infinity')) "
            "&& tstzrange(b.assigned_at, coalesce(b.ended_at, 'infinity'))"
        ).fetchall()
        # the journal is in commit order: every assignment's state changes, per unit
        events = conn.execute(
            "SELECT id, at, type, assignment_id, unit_id, data->>'status' FROM dispatch_event "
            "WHERE id > %s ORDER BY id",
            [since],
        ).fetchall()
    return calls, assignments, plans, overlaps, events


def commit_order_doubles(events):
    """(time, text) for each assignment that became active while its unit had another active one,
    replaying assignment.created/updated in journal (= commit) order."""
    active, found = {}, []
    for eid, at, type_, assignment_id, unit_id, status in events:
        if not type_.startswith("assignment.") or assignment_id is None or unit_id is None:
            continue
        held = active.setdefault(unit_id, set())
        if status in LIVE[:3]:
            others = held - {assignment_id}
            if others and assignment_id not in held:
                found.append(
                    (
                        at.timestamp(),
                        f"unit {unit_id}: assignment {assignment_id} active while "
                        f"{sorted(others)} still active (event {eid})",
                    )
                )
            held.add(assignment_id)
        else:
            held.discard(assignment_id)
    return found


def analyse(args, load, windows, since):
    calls, assignments, plans, overlaps, events = read_back(since)
    by_seq = {}
    for call_id, description, status, hold, _code in calls:
        m = re.fullmatch(r"chaos call #(\d+)", description or "")
        if m:
            by_seq.setdefault(int(m.group(1)), []).append({"id": call_id, "status": status, "hold": hold})
    first_assigned, per_service = {}, {}
    for call_id, status, service, assigned_at in assignments:
        first_assigned.setdefault(call_id, ts(assigned_at))
        if status in LIVE:
            key = (call_id, service)
            per_service[key] = per_service.get(key, []) + [ts(assigned_at)]
    plan = {(code, service): count for code, service, count in plans}
    code_of = {call_id: code for call_id, _, _, _, code in calls}
    over = [
        (call_id, service, len(times), max(times))
        for (call_id, service), times in per_service.items()
        if len(times) > plan.get((code_of[call_id], service), 0)
    ]
    doubles = commit_order_doubles(events)
    doubles += [(t, f"call {c} has {n} {s} assignments (plan {plan.get((code_of[c], s), 0)})") for c, s, n, t in over]
    ts_overlaps = [
        (t.timestamp(), f"unit {unit}: assignments {a} and {b} overlap by {secs * 1000:.0f} ms")
        for unit, a, b, t, secs in overlaps
    ]
    if load.journal_cut is not None:  # events after the feed's last check are not counted as missed
        events = [e for e in events if e[0] <= load.journal_cut]

    # the feed against the journal
    received = load.feed.received
    first_seen, dup_or_order, last = {}, {}, 0
    for eid, t in received:
        if eid in first_seen or eid <= last:
            dup_or_order[eid] = dup_or_order.get(eid, 0) + 1
        first_seen.setdefault(eid, t)
        last = max(last, eid)
    journal = {e[0]: (e[1].timestamp(), e[2]) for e in events}
    phantom = sorted(set(first_seen) - set(journal))

    bounds = [
        (w["start"] if i else float("-inf"), w["end"] if i < len(windows) - 1 else float("inf"))
        for i, w in enumerate(windows)
    ]

    def window_of(t):
        for i, (lo, hi) in enumerate(bounds):
            if lo <= t < hi:
                return i
        return None

    rows = []
    for i, w in enumerate(windows):
        lo, hi = w["start"], w["end"]
        mine = [c for c in load.calls if lo <= c["sent_at"] < hi]
        stats = {
            "sent": len(mine),
            "answered_201": 0,
            "stored": 0,
            "stored_twice": [],
            "dispatched": 0,
            "lost": [],
            "not_taken": [],
            "latency_s": [],
        }
        for c in mine:
            stored = by_seq.get(c["seq"], [])
            c["stored_ids"] = [s["id"] for s in stored]
            assigned = [first_assigned[s["id"]] for s in stored if s["id"] in first_assigned]
            c["dispatched_at"] = min(assigned) if assigned else None
            stats["answered_201"] += c["call_id"] is not None
            stats["stored"] += bool(stored)
            if len(stored) > 1:
                stats["stored_twice"].append(c["stored_ids"])
            if assigned:
                stats["dispatched"] += 1
                stats["latency_s"].append(c["dispatched_at"] - c["sent_at"])
            if (c["call_id"] is not None or stored) and not assigned:
                stats["lost"].append(
                    {
                        "seq": c["seq"],
                        "call_ids": c["stored_ids"] or [c["call_id"]],
                        "status": [s["status"] for s in stored],
                        "hold": [s["hold"] for s in stored],
                        "attempts": c["attempts"],
                    }
                )
            elif c["call_id"] is None and not stored:
                stats["not_taken"].append({"seq": c["seq"], "attempts": c["attempts"], "refused": c.get("refused")})
        stats["double"] = [d for t, d in doubles if window_of(t) == i]
        stats["timestamp_overlaps"] = [d for t, d in ts_overlaps if window_of(t) == i]
        ev = [eid for eid, (at, _) in journal.items() if window_of(at) == i]
        stats["events"] = len(ev)
        stats["ws_missed"] = [eid for eid in ev if eid not in first_seen]
        stats["ws_dup_or_out_of_order"] = sorted(
            eid for eid in dup_or_order if eid in journal and window_of(journal[eid][0]) == i
        )
        delays = [first_seen[eid] - journal[eid][0] for eid in ev if eid in first_seen]
        stats["ws_delay_p50_s"] = percentile(delays, 50) if delays else None
        stats["ws_delay_max_s"] = max(delays) if delays else None
        stats["ws_closes"] = [[round(t, 3), code] for t, code in load.feed.closes if lo <= t < hi]
        health = [(t, s, down) for t, s, down in load.health if lo <= t < hi]
        bad = [(t, s, down) for t, s, down in health if s != 200]
        stats["healthz_non_200"] = len(bad)
        stats["healthz_down"] = sorted({d for _, s, down in bad for d in (down or [str(s)])})
        stats["healthz_bad_at"] = [[round(t - (w["at"] or lo), 2), s, down] for t, s, down in bad]
        stats["lock_waits"] = [x for x in load.lock_waits if lo <= x[0] < hi]
        at = w["at"]
        if at is not None:
            after = sorted((c for c in mine if c["sent_at"] >= at), key=lambda c: c["sent_at"])
            normal = next(
                (
                    c
                    for c in after
                    if c["dispatched_at"] is not None and c["dispatched_at"] - c["sent_at"] <= args.normal_s
                ),
                None,
            )
            stats["first_normal_dispatch_s"] = round(normal["dispatched_at"] - at, 2) if normal else None
            stats["first_normal_call"] = normal["stored_ids"] if normal else None
            last_bad = max((t for t, _, _ in bad if t >= at), default=None)
            back = next((t for t, s, _ in health if last_bad is not None and t > last_bad and s == 200), None)
            stats["healthz_back_s"] = 0.0 if last_bad is None else (round(back - at, 2) if back else None)
            parts = [stats["first_normal_dispatch_s"], stats["healthz_back_s"]]
            stats["recovery_s"] = None if None in parts else max(parts)
            stats["slow_after_fault"] = [
                c["stored_ids"]
                for c in after
                if c["dispatched_at"] is not None and c["dispatched_at"] - c["sent_at"] > args.normal_s
            ]
        stats["log"] = log_lines(load.stack, (at or lo) - 0.5, hi)
        rows.append({**w, **stats})
    extra = {
        "ws_phantom_ids": phantom,
        "ws_resyncs": load.feed.resyncs,
        "events_total": len(journal),
        "ws_received_total": len(received),
        "crews": {u["callsign"]: {"jobs": u.get("jobs", 0), "timed_out": u.get("timed_out", 0)} for u in load.units},
    }
    return rows, extra


ACCESS_LINE = re.compile(r'"[A-Z]+ \S+ HTTP/1\.1" \d{3}')
INTERESTING = (
    "Traceback",
    "ERROR",
    "CRITICAL",
    "Unrecoverable",
    "exited:",
    "spawned:",
    "WARNING",
    "Error",
    "error",
    "gave up",
    "FATAL",
    "refused",
    "lost",
    "Unavailable",
    "active beat",
)


def log_lines(stack, lo, hi):
    """Error-like lines (and supervisord's exited/spawned) printed in [lo, hi), access-log lines left out."""
    out = []
    for t, line in stack.lines:
        if lo <= t < hi and not ACCESS_LINE.search(line) and any(k in line for k in INTERESTING):
            out.append(f"{clock(t)} {line[:400]}")
    return out


def print_report(args, rows, extra):
    fmt = lambda v: "-" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))  # noqa: E731
    table_rows = []
    for r in rows:
        lat = r["latency_s"]
        goal = ""
        if r["at"] is not None:
            ok = (
                not r["lost"]
                and not r["double"]
                and r.get("recovery_s") is not None
                and r["recovery_s"] <= 10
                and not r["ws_missed"]
                and not r["ws_dup_or_out_of_order"]
            )
            goal = "ok" if ok else "FAIL"
        table_rows.append(
            [
                r["fault"],
                r["sent"],
                r["answered_201"],
                r["stored"],
                r["dispatched"],
                len(r["lost"]),
                len(r["not_taken"]),
                len(r["double"]),
                len(r["timestamp_overlaps"]),
                r["events"],
                len(r["ws_missed"]),
                len(r["ws_dup_or_out_of_order"]),
                len(r["ws_closes"]),
                fmt(r["ws_delay_max_s"]),
                fmt(percentile(lat, 50) if lat else None),
                fmt(max(lat) if lat else None),
                r["healthz_non_200"],
                fmt(r.get("first_normal_dispatch_s")),
                fmt(r.get("healthz_back_s")),
                fmt(r.get("recovery_s")),
                fmt(r.get("process_back_s")),
                goal,
            ]
        )
    table(
        [
            "fault",
            "sent",
            "201",
            "stored",
            "dispatched",
            "lost",
            "not taken",
            "double",
            "ts overlap",
            "events",
            "ws missed",
            "ws dup/order",
            "ws closes",
            "ws max delay s",
            "dispatch p50 s",
            "dispatch max s",
            "healthz non-200",
            "normal dispatch after s",
            "healthz 200 after s",
            "recovery s",
            "process back s",
            "goal",
        ],
        table_rows,
    )
    print(
        f"-- 'dispatch' = POST sent -> first assignment (database); normal = within {args.normal_s} s; "
        f"websocket: {extra['ws_received_total']} messages for {extra['events_total']} journal rows, "
        f"{extra['ws_resyncs']} resync(s), {len(extra['ws_phantom_ids'])} id(s) not in the journal"
    )
    jobs = [c["jobs"] for c in extra["crews"].values()]
    print(
        f"-- crews: {sum(jobs)} assignments worked (min {min(jobs)}, max {max(jobs)} per unit), "
        f"{sum(c['timed_out'] for c in extra['crews'].values())} timed out"
    )
    for r in rows:
        notes = []
        for key in ("lost", "not_taken", "double", "timestamp_overlaps", "stored_twice"):
            if r[key]:
                notes.append(f"{key}: {json.dumps(r[key][:5], default=str)[:600]}")
        if r["ws_missed"]:
            notes.append(f"ws missed ids: {r['ws_missed'][:20]}")
        if r["ws_dup_or_out_of_order"]:
            notes.append(f"ws dup/out-of-order ids: {r['ws_dup_or_out_of_order'][:20]}")
        if r.get("slow_after_fault"):
            notes.append(
                f"calls dispatched slower than {args.normal_s} s after the fault: "
                f"{len(r['slow_after_fault'])} (ids {[i for ids in r['slow_after_fault'] for i in ids][:15]})"
            )
        if r["healthz_down"]:
            when = ", ".join(f"{t:+.1f} s" for t, _, _ in r["healthz_bad_at"])
            notes.append(f"/healthz non-200 at {when} (from the fault): {', '.join(r['healthz_down'])}")
        if r["lock_waits"]:
            worst = max(r["lock_waits"], key=lambda x: x[1])
            notes.append(
                f"lock waits > 0.5 s sampled: {len(r['lock_waits'])}; longest {worst[1]} s at {clock(worst[0])}: "
                f"{worst[2]!r} blocked by backend {worst[3]} ({worst[8] or 'process unknown'}, {worst[4]}, "
                f"transaction {worst[5]} s): {worst[7]!r}"
            )
        if r["ws_closes"]:
            notes.append(f"websocket closes: {[c for _, c in r['ws_closes']]}")
        extra_info = {
            k: r[k] for k in ("killed", "pool", "holds_operator_socket", "terminated_backends", "ready_s") if k in r
        }
        if extra_info:
            notes.append(f"fault: {extra_info}")
        print(f"== {r['fault']}" + (f" at {clock(r['at'])}" if r["at"] else ""))
        for n in notes:
            print("   " + n)
        seen = set()
        for line in r["log"]:
            key = re.sub(r"\d+", "#", line[13:])[:160]
            if key not in seen and len(seen) < args.log_lines:
                seen.add(key)
                print("   | " + line[:300])
        if len(r["log"]) > len(seen):
            print(f"   | ... {len(r['log'])} error/warning/supervisor line(s) in the window in all")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls-per-s", type=float, default=2.0)
    ap.add_argument("--units", type=int, default=60)
    ap.add_argument("--baseline-s", type=float, default=15)
    ap.add_argument("--window-s", type=float, default=25)
    ap.add_argument("--lead-s", type=float, default=5)
    ap.add_argument("--faults", default=",".join(FAULTS))
    ap.add_argument("--redis-down-s", type=float, default=3)
    ap.add_argument("--normal-s", type=float, default=2.0, help="a dispatch this fast counts as recovered")
    ap.add_argument("--give-up-s", type=float, default=30, help="how long the operator retries one call")
    ap.add_argument("--crew-poll-s", type=float, default=2.0)
    ap.add_argument("--sweep-s", type=float, default=1.0)
    ap.add_argument("--drain-s", type=float, default=60)
    ap.add_argument("--log-lines", type=int, default=12, help="distinct log lines printed per window")
    ap.add_argument("--seed", type=int, default=112)
    ap.add_argument("--json", help="write every figure, call and log line here")
    args = ap.parse_args()
    args.faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = set(args.faults) - set(FAULTS)
    if unknown:
        ap.error(f"unknown fault(s) {sorted(unknown)}; choose from {','.join(FAULTS)}")

    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    stack = Stack(args)
    try:
        fresh_database()
        machine = _common.machine()
        print("== chaos proof: calls and crews while processes die (bench/chaos.py)")
        print(f"   {machine}")
        from django.db import connection

        connection.close()
        stack.start_redis()
        op_token = create_account("chaos-operator", "operator")
        sup_token = create_account("chaos-supervisor", "supervisor")
        stack.start_supervisord()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 120:  # the three processes up, two web workers, /healthz 200
            if stack.sup.poll() is not None:
                raise RuntimeError("supervisord exited:\n" + "\n".join(line for _, line in stack.lines[-40:]))
            web = stack.pid("web")
            if web and len(children(web)) == 2 and healthz_ok(stack.port):
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(
                "the stack did not become healthy in 120 s:\n" + "\n".join(line for _, line in stack.lines[-40:])
            )
        print(
            f"-- supervisord up in {time.monotonic() - t0:.1f} s: web {stack.pid('web')} (workers "
            f"{children(stack.pid('web'))}), worker {stack.pid('worker')}, beat {stack.pid('beat')}; "
            f"port {stack.port}, redis {REDIS_PORT}, database {DB_NAME}"
        )
        load, windows = asyncio.run(drive(args, stack, op_token, sup_token))
        rows, extra = analyse(args, load, windows, load.feed.since)
    except BaseException:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl+C must not cut the cleanup short
        stack.stop()
        print(f"-- logs kept in {stack.dir}")
        raise
    stack.stop()
    print_report(args, rows, extra)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"args": vars(args), "machine": machine, "windows": rows, **extra, "calls": load.calls},
                f,
                indent=1,
                default=str,
            )
        print(f"-- written {args.json}")
    print_load_after()
    remove_logs()


def healthz_ok(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            s.settimeout(5)
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("-- interrupted: every process this run started has been stopped")
