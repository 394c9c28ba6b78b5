"""Run by tests/supervisor/test_replica.py in its own process, with DATABASE_URL on a private
primary and DATABASE_REPLICA_URL on a streaming standby of it (settings are read at start-up,
so this cannot run inside the pytest process). Prints one JSON object of observations;
the test asserts on them.

Environment: REPLICA_SUPERUSER_DSN (to pause the standby's replay), REPLICA_STOP (a shell
command that stops the standby).
"""

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connections  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from core import replica  # noqa: E402
from dispatch.models import ReadAudit  # noqa: E402
from tests.supervisor.builders import make_call  # noqa: E402


def primary_lsn():
    with connections["default"].cursor() as cur:
        cur.execute("SELECT pg_current_wal_lsn()")
        return cur.fetchone()[0]


def wait_replayed(dsn):
    target = primary_lsn()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(200):
            if conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()[0]:
                return
            time.sleep(0.05)
    raise SystemExit("the standby did not replay the primary's WAL within 10 s")


@contextmanager
def replica_queries():
    """The statements run on the replica's connection, but for core.replica's own lag check
    (CaptureQueriesContext would connect on entering, and the replica may be down)."""
    seen = []

    def wrapper(execute, sql, params, many, context):
        if "pg_is_in_recovery" not in sql:
            seen.append(sql)
        return execute(sql, params, many, context)

    with connections["replica"].execute_wrapper(wrapper):
        yield seen


def client(user):
    c = APIClient()
    c.force_authenticate(user)
    return c


def look(supervisor, operator):
    """What each supervisors' read sees, and which connections it used."""
    out = {}
    sup = client(supervisor)
    for name, path in (("history", "/api/v1/calls/"), ("stats", "/api/v1/stats/"),
                       ("export", "/api/v1/calls/export.csv")):
        with replica_queries() as on_replica:
            response = sup.get(path, {"received_after": (timezone.now() - timedelta(days=2)).isoformat()}
                               if name == "stats" else {})
            body = b"".join(response.streaming_content) if response.streaming else response.content
        if name == "history":
            seen = sorted(r["reference"] for r in response.json()["results"])
        elif name == "stats":
            seen = response.json()["calls"]
        else:
            seen = sorted(line.split(",")[0] for line in body.decode("utf-8-sig").splitlines()[1:])
        out[name] = {"status": response.status_code, "seen": seen, "replica_queries": len(on_replica)}
    # The operators' console list reads the primary whatever the replica's state.
    response = client(operator).get("/api/v1/calls/")
    out["operator_history"] = sorted(r["reference"] for r in response.json()["results"])
    out["alias"] = replica.read_alias()
    return out


def main():
    dsn = os.environ["REPLICA_SUPERUSER_DSN"]
    user_model = get_user_model()
    supervisor = user_model.objects.create_user(username="probe-supervisor", password=None)
    supervisor.groups.add(Group.objects.get_or_create(name="supervisor")[0])
    operator = user_model.objects.create_user(username="probe-operator", password=None)
    operator.groups.add(Group.objects.get_or_create(name="operator")[0])
    now = timezone.now()
    make_call(now - timedelta(hours=3), dispatch_s=20, on_scene_s=300, disposition="resolved")
    make_call(now - timedelta(hours=2), status="dispatched", dispatch_s=30)
    wait_replayed(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")

    result = {}
    # A write made inside a replica block still goes to the primary.
    with replica.replica_reads() as alias:
        result["alias_in_block"] = alias
        late = make_call(now - timedelta(hours=1), dispatch_s=40, on_scene_s=200, disposition="resolved")
    result["late"] = late.reference
    result["late_on_primary"] = type(late).objects.using("default").filter(pk=late.pk).exists()
    audits_before = ReadAudit.objects.using("default").count()

    replica.forget_verdict()
    result["paused"] = look(supervisor, operator)
    result["export_audited_on_primary"] = ReadAudit.objects.using("default").count() - audits_before

    # Replay still paused: once the replica is further behind than the bound, the primary.
    time.sleep(0.5)
    with override_settings(DATABASE_REPLICA_MAX_LAG_S=0.3):
        replica.forget_verdict()
        result["over_bound"] = look(supervisor, operator)

    # Resumed, it catches up and serves again.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_resume()")
    wait_replayed(dsn)
    replica.forget_verdict()
    result["resumed"] = look(supervisor, operator)

    # Stopped: every read falls back to the primary.
    subprocess.run(os.environ["REPLICA_STOP"], shell=True, check=True, capture_output=True)
    replica.forget_verdict()
    result["stopped"] = look(supervisor, operator)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
