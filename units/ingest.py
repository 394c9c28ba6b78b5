"""ASGI fast path for POST /api/v1/me/location/, the one hot endpoint.

Every unit's phone reports every few seconds. Through Django + DRF a report cost ~15 ms of
CPU (request machinery, a thread hop per sync view, ORM objects), which capped a 2-core
machine far below SPEC's ingest levels (bench/positions_ingest.py). Here the request is
answered in the event loop: the token and unit are checked and the fix stored with one
statement on an async psycopg pool, sharing validation (units.serializers.validate_fixes)
and SQL (units.services) with the Django view, so both paths apply the same rules. Only
the once-a-second journal row goes back through Django (record_event), off the loop.
Everything else is passed to Django untouched.
"""

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor

import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.utils import timezone
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from rest_framework.exceptions import ValidationError
from rest_framework.utils.encoders import JSONEncoder

from accounts.tokens import token_digest
from config.db import libpq_params
from core.outages import DETAIL, RETRY_AFTER_S, is_outage, is_overload

from .serializers import validate_fixes
from .services import (
    REPORT_SQL,
    position_report_params,
    position_report_result,
    unit_publish_position,
)

log = logging.getLogger(__name__)

INLINE_VALIDATION_MAX = 50

PATH = "/api/v1/me/location/"
# The same rules as accounts.tokens.find_token: by digest, unexpired, active account.
AUTH_SQL = """
    SELECT u.id FROM knox_authtoken t
    JOIN auth_user au ON au.id = t.user_id AND au.is_active
    LEFT JOIN units_unit u ON u.user_id = t.user_id
    WHERE t.digest = %s AND (t.expiry IS NULL OR t.expiry > now())
"""


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


class PositionIngest:
    def __init__(self, inner):
        self.inner = inner
        self.pool = None

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST":
            return await self.handle(scope, receive, send)
        return await self.inner(scope, receive, send)

    async def _pool(self):
        if self.pool is None:
            conninfo = make_conninfo("", **libpq_params())
            # autocommit: every statement is its own transaction, so the store (one
            # statement) has committed, and let go of the unit row, before the journal
            # publish below; the auth query opens no transaction around it.
            # check: a connection broken by a server restart is replaced on checkout.
            self.pool = AsyncConnectionPool(conninfo, min_size=1, max_size=4, open=False, timeout=2,
                                            kwargs={"autocommit": True}, check=AsyncConnectionPool.check_connection)
            await self.pool.open()
        return self.pool

    async def handle(self, scope, receive, send):
        body = bytearray()
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > limit:
                return await _respond(send, 413, {"detail": "Request body too large."})
            if not message.get("more_body"):
                break
        headers = dict(scope.get("headers", []))
        auth = headers.get(b"authorization", b"").decode("latin-1")
        if not auth.lower().startswith("token ") or not auth[6:].strip():
            return await _respond(send, 401, {"detail": "Authentication credentials were not provided."},
                                  challenge=True)
        try:
            payload = json.loads(body or b"null", parse_constant=_reject_constant)
        except ValueError as exc:
            return await _respond(send, 400, {"detail": f"JSON parse error - {exc}"})
        try:
            pool = await self._pool()
            async with pool.connection() as conn:
                digest = token_digest(auth[6:].strip())
                row = digest and await (await conn.execute(AUTH_SQL, [digest])).fetchone()
                if not row:
                    return await _respond(send, 401, {"detail": "Invalid token."}, challenge=True)
                unit_id = row[0]
                if unit_id is None:
                    return await _respond(send, 403, {"detail": "Unit devices only."})
                try:
                    # A phone's offline buffer (up to 1,000 fixes, ~90 ms of validation) is
                    # validated off the event loop, which serves every other request too.
                    if isinstance(payload, list) and len(payload) > INLINE_VALIDATION_MAX:
                        fixes = await asyncio.to_thread(_validate, payload)
                    else:
                        fixes = _validate(payload)
                except ValidationError as exc:
                    return await _respond(send, 400, exc.detail)
                row = await self._store(conn, unit_id, fixes)
        except (psycopg.Error, PoolTimeout) as exc:
            # The same line as the Django views (ops/middleware.py): a lost connection or a
            # statement timeout is a 503 (nothing was stored; the phone sends the fixes
            # again), any other database error stays a bug.
            if not (is_outage(exc) or is_overload(exc)):
                raise
            log.warning("position report not stored, database unavailable: %s", exc)
            return await _respond(send, 503, {"detail": DETAIL}, retry_after=RETRY_AFTER_S)
        # Committed and the connection returned: only now the journal row (which takes the
        # journal lock, so it must never wait while this request holds the unit row).
        if row is not None and row[0]:
            await _publish_position(unit_id=unit_id)
        return await _respond(send, 200, position_report_result(unit_id, len(fixes), row))

    async def _store(self, conn, unit_id, fixes):
        history, live = position_report_params(unit_id, fixes, timezone.now())
        # One statement on an autocommit connection: its own transaction, one round trip.
        return await (await conn.execute(REPORT_SQL, {**history, **live})).fetchone()


def _validate(payload):
    return validate_fixes(payload)


def _publish_position_sync(unit_id):
    try:
        unit_publish_position(unit_id=unit_id)
    except Exception:  # the fix is stored; the next report (or a reload) shows it
        log.warning("journal row for unit %s position failed", unit_id, exc_info=True)
    finally:
        connection.close()  # back to the pool: these threads are not Django's request threads


# Journal rows of positions wait on the journal lock (held by any writing transaction to
# its commit). Run on asgiref's one shared thread, that wait stalled every websocket
# handshake and Django view of the process behind it (issue 13); they get threads of
# their own, few enough to leave the connection pool (DB_POOL_MAX_SIZE) to the rest.
_publish_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="position-journal")
_publish_position = sync_to_async(_publish_position_sync, thread_sensitive=False, executor=_publish_executor)


async def _respond(send, status, body, challenge=False, retry_after=None):
    data = json.dumps(body, cls=JSONEncoder).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if challenge:
        headers.append((b"www-authenticate", b"Token"))
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
