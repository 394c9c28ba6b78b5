"""The application's database role (issue 14) and the parameters every connection uses.

The role owns its database but is not a superuser: scripts/bootstrap.sh makes it so (and
demotes a role an older bootstrap made a superuser), and `make test` always runs after the
bootstrap, so the first test holds unconditionally.
"""

import json
import subprocess
import sys

import pytest
from django.db import ProgrammingError, connection, transaction

from tests.conftest import ROOT, process_env


@pytest.mark.django_db
def test_the_app_role_owns_its_database_and_is_not_a_superuser():
    with connection.cursor() as cur:
        cur.execute(
            "SELECT r.rolsuper, r.rolcreaterole, current_setting('is_superuser'), pg_get_userbyid(d.datdba) = current_user"
            " FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()"
        )
        assert cur.fetchone() == (False, False, "off", True)
        # The extensions migrations need are there, installed by an admin (the template), not by this role.
        cur.execute(
            "SELECT extname, pg_get_userbyid(extowner) = current_user FROM pg_extension"
            " WHERE extname IN ('postgis', 'btree_gist', 'pg_trgm', 'unaccent') ORDER BY extname"
        )
        assert cur.fetchall() == [("btree_gist", False), ("pg_trgm", False), ("postgis", False), ("unaccent", False)]
    # And a superuser-only setting is refused: the flag above is what PostgreSQL enforces.
    with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET session_replication_role = replica")


# What a production DATABASE_URL may carry: a user and password with a space, both quotes,
# a backslash and an `@` (percent-encoded in the URL), TLS settings and libpq options.
PASSWORD = "p a'ss\"w@rd\\ x"
URL = (
    "postgis://app%20user:p%20a%27ss%22w%40rd%5C%20x@db.internal:6432/dispatch"
    "?sslmode=verify-full&sslrootcert=/etc/ssl/db%20ca.pem&connect_timeout=7&options=-c%20search_path%3Dpublic"
)
_DERIVE = """
import django, json, os
os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'
django.setup()
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from config.db import libpq_params
from ops.beat import lock_connection_params
params = libpq_params()
beat = lock_connection_params()
beat.pop('autocommit')
print(json.dumps({'params': params, 'parsed': conninfo_to_dict(make_conninfo('', **params)),
                  'beat': conninfo_to_dict(make_conninfo('', **{k: str(v) for k, v in beat.items()}))}))
"""


def test_connections_outside_the_orm_keep_an_awkward_password_and_the_libpq_options():
    """The position fast path builds a conninfo string from these, beat's lock passes them as
    keywords: a password with spaces and quotes and the TLS settings must arrive unchanged."""
    result = subprocess.run([sys.executable, "-c", _DERIVE], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env=process_env(DATABASE_URL=URL, DB_IDLE_IN_TRANSACTION_TIMEOUT_S="45"))
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.splitlines()[-1])
    expected = {
        "dbname": "dispatch", "user": "app user", "password": PASSWORD, "host": "db.internal", "port": "6432",
        "sslmode": "verify-full", "sslrootcert": "/etc/ssl/db ca.pem", "connect_timeout": "7",
        "options": "-c search_path=public -c idle_in_transaction_session_timeout=45000",
    }
    for key, value in expected.items():
        assert out["params"][key] == value, key
        # through the conninfo string (units/ingest.py), read back by libpq's own parser (PQconninfoParse)
        assert out["parsed"][key] == value, key
        if key not in ("options", "connect_timeout"):  # beat adds its own to both (ops/beat.py)
            assert out["beat"][key] == value, key
    assert out["parsed"] == out["params"]
    assert out["beat"]["options"].startswith(expected["options"] + " -c tcp_keepalives_idle=2")
