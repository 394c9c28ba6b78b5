"""Supervisors' reads from a real streaming replica (issue 19, core/replica.py).

The shared PostgreSQL cannot serve replication (pg_hba has no `replication` entry and must
not be restarted or reconfigured for a test), so this builds its own: a primary cluster
(initdb in a temporary directory, PostGIS and the project's migrations), a standby of it
made by pg_basebackup and started on another port, streaming. The application runs in a
subprocess (tests/supervisor/replica_probe.py) whose settings point DATABASE_URL at the
primary and DATABASE_REPLICA_URL at the standby. ~15 s; both clusters are stopped and
removed afterwards.
"""

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
DB = "dispatch_replica"
EXTENSIONS = ("postgis", "btree_gist", "pg_trgm", "unaccent", "pgrouting")


def _as_postgres(*args, check=True):
    # initdb and the server refuse to run as root.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    done = subprocess.run([*prefix, *map(str, args)], capture_output=True, text=True, timeout=60)
    if check and done.returncode:
        raise AssertionError(f"{args[0]} failed: {done.stderr[-2000:]}")
    return done


def _start(data, log):
    """Start the cluster in `data` on a free port; return the port.

    A fixed port once failed CI: a cluster left running by an interrupted earlier run held
    it, and the server's reason was only in its log. The port is chosen free, taken again
    if another process wins it in between, and any other failure says what the log says.
    """
    for _ in range(5):
        port = free_port()
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {port}\n")  # the last setting in the file wins
        done = _as_postgres(PG_BIN / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "120", "start", check=False)
        if done.returncode == 0:
            return port
        text = log.read_text(errors="replace") if log.exists() else "(no log)"
        if "Address already in use" not in text:
            raise AssertionError(f"pg_ctl start of {data.name} failed: {done.stderr[-500:]}\n{text[-3000:]}")
    raise AssertionError(f"no free port for {data.name} after 5 tries:\n{text[-3000:]}")


def _psql(port, sql, db="postgres"):
    _as_postgres(PG_BIN / "psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", db, "-v",
                 "ON_ERROR_STOP=1", "-qc", sql)


@pytest.fixture(scope="module")
def clusters():
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL 15 server binaries are needed at {PG_BIN}")
    tmp = Path(tempfile.mkdtemp(prefix="dispatch-replica-"))
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
    primary, standby = tmp / "primary", tmp / "standby"
    started = []
    try:
        _as_postgres(PG_BIN / "initdb", "-D", primary, "-U", "postgres", "-A", "trust", "--no-sync")
        with open(primary / "postgresql.conf", "a") as conf:
            # wal_level=replica and max_wal_senders are the defaults; initdb's pg_hba.conf
            # has `host replication all 127.0.0.1/32 trust`.
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{tmp}'\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 32MB\n")
        primary_port = _start(primary, tmp / "primary.log")
        started.append(primary)
        _psql(primary_port, "CREATE ROLE dispatch LOGIN PASSWORD 'dispatch'")
        _psql(primary_port, f"CREATE DATABASE {DB} OWNER dispatch")
        _psql(primary_port, "; ".join(f"CREATE EXTENSION {e}" for e in EXTENSIONS), db=DB)
        env = {**os.environ, "DATABASE_URL": f"postgis://dispatch:dispatch@127.0.0.1:{primary_port}/{DB}"}
        env.pop("DATABASE_REPLICA_URL", None)
        done = subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        _as_postgres(PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", primary_port, "-U", "postgres", "-D",
                     standby, "-R", "-X", "stream", "-c", "fast", "--no-sync")
        standby_port = _start(standby, tmp / "standby.log")
        started.append(standby)
        yield {"tmp": tmp, "standby": standby, "env": env, "standby_port": standby_port}
    finally:
        for data in reversed(started):
            _as_postgres(PG_BIN / "pg_ctl", "-D", data, "-m", "immediate", "stop", check=False)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def observed(clusters):
    standby_port = clusters["standby_port"]
    stop = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    env = {
        **clusters["env"],
        "DATABASE_REPLICA_URL": f"postgis://dispatch:dispatch@127.0.0.1:{standby_port}/{DB}",
        "ALLOWED_HOSTS": "testserver",
        "DATABASE_REPLICA_MAX_LAG_S": "30",
        "DATABASE_REPLICA_CHECK_S": "0",
        "REPLICA_SUPERUSER_DSN": f"host=127.0.0.1 port={standby_port} user=postgres dbname={DB}",
        "REPLICA_STOP": " ".join([*stop, str(PG_BIN / "pg_ctl"), "-D", str(clusters["standby"]), "-m", "fast",
                                  "-w", "stop"]),
    }
    done = subprocess.run([sys.executable, "tests/supervisor/replica_probe.py"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_supervisors_reads_come_from_the_standby_which_has_not_replayed_the_latest_call(observed):
    late = observed["late"]
    paused = observed["paused"]
    assert paused["alias"] == "replica"
    for name in ("history", "stats", "export"):
        assert paused[name]["status"] == 200
        assert paused[name]["replica_queries"] > 0, name
    # Replay was paused before the last call was written: only the standby lacks it.
    assert len(paused["history"]["seen"]) == 2 and late not in paused["history"]["seen"]
    assert len(paused["export"]["seen"]) == 2 and late not in paused["export"]["seen"]
    assert paused["stats"]["seen"] == 2
    # The console's list (operators) always reads the primary.
    assert late in paused["operator_history"]


def test_writes_go_to_the_primary_even_inside_a_replica_block(observed):
    assert observed["alias_in_block"] == "replica"
    assert observed["late_on_primary"]
    # The export's audit row was written (to the primary: the standby is read-only and
    # would have failed the request).
    assert observed["export_audited_on_primary"] == 1


def test_a_standby_further_behind_than_the_bound_is_not_read(observed):
    over = observed["over_bound"]
    assert over["alias"] == "default"
    for name in ("history", "stats", "export"):
        assert over[name]["replica_queries"] == 0, name
    assert observed["late"] in over["history"]["seen"] and over["stats"]["seen"] == 3


def test_after_catching_up_the_standby_serves_everything(observed):
    resumed = observed["resumed"]
    assert resumed["alias"] == "replica"
    assert observed["late"] in resumed["history"]["seen"] and resumed["stats"]["seen"] == 3
    assert all(resumed[name]["replica_queries"] > 0 for name in ("history", "stats", "export"))


def test_with_the_standby_stopped_reads_fall_back_to_the_primary(observed):
    stopped = observed["stopped"]
    assert stopped["alias"] == "default"
    for name in ("history", "stats", "export"):
        assert stopped[name]["status"] == 200 and stopped[name]["replica_queries"] == 0, name
    assert observed["late"] in stopped["history"]["seen"] and observed["late"] in stopped["export"]["seen"]
    assert stopped["stats"]["seen"] == 3
