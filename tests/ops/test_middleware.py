"""Which database errors are an outage (503 + Retry-After) and which stay a 500."""

import psycopg
import pytest
from django.db import OperationalError, connection, transaction
from django.test import RequestFactory

from core.outages import is_outage, is_overload
from ops.middleware import DatabaseOutageMiddleware


def _django_error(cause):
    try:
        try:
            raise cause
        except psycopg.Error as exc:
            raise OperationalError(str(exc)) from exc
    except OperationalError as wrapped:
        return wrapped


def _respond(exc):
    return DatabaseOutageMiddleware(lambda r: None).process_exception(RequestFactory().post("/api/v1/calls/"), exc)


def test_a_refused_connection_is_an_outage():
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect("host=127.0.0.1 port=1 dbname=x connect_timeout=2")
    exc = _django_error(refused.value)
    assert is_outage(exc)
    response = _respond(exc)
    assert response.status_code == 503 and response["Retry-After"] == "5"


@pytest.mark.parametrize("error", [psycopg.errors.AdminShutdown, psycopg.errors.ConnectionFailure,
                                   psycopg.errors.CannotConnectNow])
def test_server_shutting_down_or_starting_is_an_outage(error):
    assert is_outage(_django_error(error("terminating connection")))


@pytest.mark.parametrize("error", [psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure,
                                   psycopg.errors.LockNotAvailable])
def test_a_deadlock_or_conflict_is_a_bug_not_an_outage(error):
    exc = _django_error(error("deadlock detected"))
    assert not is_outage(exc) and not is_overload(exc)
    assert _respond(exc) is None  # Django's 500, with the traceback in the log


@pytest.mark.django_db
def test_a_statement_cut_by_the_timeout_is_a_503_logged_in_full(caplog):
    with pytest.raises(OperationalError) as cut, transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL statement_timeout = 50")
        cur.execute("SELECT pg_sleep(1)")
    assert is_overload(cut.value) and not is_outage(cut.value)
    response = _respond(cut.value)
    assert response.status_code == 503
    assert any(r.levelname == "ERROR" and r.exc_info for r in caplog.records)
