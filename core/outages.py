"""Telling weather from bugs: which database errors are an outage or an overload.

Shared by everything that answers for the database (the web's middleware, the position
fast path, the websocket handshake): an outage or an overload is "503, try again in
RETRY_AFTER_S", anything else is a bug and keeps its traceback.
"""

import psycopg
import psycopg_pool
from django.db import InterfaceError, OperationalError

RETRY_AFTER_S = 5
DETAIL = "The database is unavailable; try again in a few seconds."


# SQLSTATEs of a lost or refused connection: class 08 (connection exception), the server
# shutting down or starting (57P01-57P03). Other OperationalErrors are not outages:
# a deadlock (40P01) or a serialization failure is a bug to see, with its traceback.
_OUTAGE_STATES = ("57P01", "57P02", "57P03")
QUERY_CANCELED = "57014"  # statement_timeout: the database is there but too slow right now


def _sqlstate(exc):
    while exc is not None:
        if isinstance(exc, psycopg.Error):
            return exc.sqlstate
        exc = exc.__cause__
    return None


def is_outage(exc):
    """A lost or refused connection, as opposed to a bad query (which stays a bug, a 500)."""
    if isinstance(exc, (InterfaceError, psycopg.InterfaceError, psycopg_pool.PoolTimeout)):
        return True
    if not isinstance(exc, (OperationalError, psycopg.OperationalError)):
        return False
    state = _sqlstate(exc)
    # No SQLSTATE: the client lost the server (refused, reset, closed mid-query).
    return state is None or state.startswith("08") or state in _OUTAGE_STATES


def is_overload(exc):
    return isinstance(exc, (OperationalError, psycopg.OperationalError)) and _sqlstate(exc) == QUERY_CANCELED
