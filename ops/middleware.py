"""A database outage answers 503 with Retry-After, never a 500 with a stack trace.

When PostgreSQL restarts, or every backend is terminated (a failover, an administrator),
requests in flight fail with OperationalError / InterfaceError. A call is only answered
201 after its commit, so the honest answer is "not now, try again": 503 with
Retry-After, which the console and clients retry. (Only a connection lost during the
COMMIT itself can leave a call stored behind a 503; the retry then shows as a possible
duplicate of it.) A statement cut by DB_STATEMENT_TIMEOUT_S is a 503 too, logged in
full; every other database error (a deadlock, a constraint) stays a 500 with its
traceback: it is a bug to fix, not weather. Django then
discards the broken connection (pool checks on checkout, CONN_HEALTH_CHECKS), so the
first request after the server is back succeeds.

`process_exception` covers errors raised by views (DRF re-raises what it does not
handle); `server_error` is the handler500 for errors raised elsewhere (a middleware
reading the session).
"""

import logging
import sys

from django.http import HttpResponse, JsonResponse
from django.views.defaults import server_error as django_server_error

from core.outages import DETAIL, RETRY_AFTER_S, is_outage, is_overload

log = logging.getLogger(__name__)

def unavailable_response(request):
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse({"detail": DETAIL}, status=503)
    else:
        response = HttpResponse(DETAIL, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


class DatabaseOutageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_outage(exception):
            log.warning("database unavailable during %s %s: %s", request.method, request.path, exception)
            return unavailable_response(request)
        if is_overload(exception):
            # Nothing was committed; the client may retry. Logged in full: a statement
            # that needs more than DB_STATEMENT_TIMEOUT_S is something to fix.
            log.error("statement timeout during %s %s", request.method, request.path, exc_info=exception)
            return unavailable_response(request)
        return None


def server_error(request, *args, **kwargs):
    exc = sys.exc_info()[1]
    if exc is not None and (is_outage(exc) or is_overload(exc)):
        log.warning("database unavailable during %s %s: %s", request.method, request.path, exc)
        return unavailable_response(request)
    return django_server_error(request, *args, **kwargs)
