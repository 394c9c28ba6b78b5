"""The settings module refuses a bad environment with a message naming the variable."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT, process_env


def _start(**env):
    return subprocess.run(
        [sys.executable, "-c", "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup()"],
        cwd=ROOT, env=process_env(**env), capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    "name,value",
    [
        ("DISPATCH_ACK_TIMEOUT_S", "soon"),
        ("DISPATCH_STALE_LOCATION_S", "-5"),
        ("DUPLICATE_RADIUS_M", "wide"),
        ("DEBUG", "maybe"),
        ("TIME_ZONE", "Mars/Olympus"),
        ("DATABASE_URL", "mysql://x@localhost/db"),
        ("REDIS_URL", "http://localhost"),
        ("DB_STATEMENT_TIMEOUT_S", "-1"),
        ("DATABASE_REPLICA_URL", "mysql://x@localhost/db"),
        ("DATABASE_REPLICA_MAX_LAG_S", "-1"),
        ("STATS_ROLLUP_INTERVAL_S", "1"),
    ],
)
def test_bad_value_stops_start_up_naming_the_variable(name, value):
    result = _start(**{name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_missing_secret_key_outside_debug_is_refused():
    result = _start(DEBUG="false", SECRET_KEY="", SECRET_KEY_FILE="/nonexistent/secret_key")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_good_environment_starts():
    result = _start(DISPATCH_ACK_TIMEOUT_S="45")
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_server_side_limits_reach_postgresql():
    """The session limits are set on every connection (issue 13): a runaway statement is
    cancelled and an abandoned transaction ends."""
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup()\n"
        "from django.db import connection, OperationalError\n"
        "cur = connection.cursor()\n"
        "cur.execute('SHOW idle_in_transaction_session_timeout'); print(cur.fetchone()[0])\n"
        "cur.execute('SHOW statement_timeout'); print(cur.fetchone()[0])\n"
        "try:\n"
        "    cur.execute('SELECT pg_sleep(3)'); print('slept')\n"
        "except OperationalError as exc:\n"
        "    print('cancelled' if 'statement timeout' in str(exc) else exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env=process_env(DB_STATEMENT_TIMEOUT_S="1", DB_IDLE_IN_TRANSACTION_TIMEOUT_S="45"))
    assert result.stdout.split() == ["45s", "1s", "cancelled"], result.stderr[-2000:]
