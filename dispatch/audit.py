"""The read audit: who read callers' personal data, when, what and from where.

One row per read (a call's detail, timeline or EIDO document; a history search; an
export), written by the view in its request with one INSERT. It is not a journal event:
a read changes nothing, so it takes no journal lock and is never on the live feed.
Supervisors read it through GET /api/v1/audit/ (docs/privacy.md).

Writing the audit never fails a read. When the INSERT fails the read is still answered
and the failure is logged (without the searched text: logs carry no personal data); if
the database itself is gone, the read has failed already.
"""

import ipaddress
import logging

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from .models import ReadAudit

log = logging.getLogger(__name__)

Action = ReadAudit.Action

# Filters of a search or export that are not kept: paging only.
_PAGING = ("cursor", "page_size")


def _client_address(request):
    # REMOTE_ADDR is the client as the ASGI server saw it; uvicorn rewrites it from
    # X-Forwarded-For only for a trusted proxy (--forwarded-allow-ips), so a client cannot
    # forge it. A unix socket or anything else that is not an address is stored as NULL.
    raw = request.META.get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def search_filters(params, names):
    """The filters of a history search or export, as the client gave them: only the
    filterset's own names (`names`), the text `q` apart, paging left out."""
    return {name: params.get(name) for name in names if name not in ("q", *_PAGING) and params.get(name)}


def read_audit_record(*, request, action, call_id=None, query="", filters=None, row_count=None):
    """Insert one audit row for `request.user`; returns it, or None if the insert failed."""
    user = request.user
    row = ReadAudit(
        at=timezone.now(),
        actor=user if user.is_authenticated else None,
        actor_username=user.get_username() if user.is_authenticated else "",
        action=action,
        call_id=call_id,
        remote_addr=_client_address(request),
        query=query,
        filters=filters or {},
        row_count=row_count,
    )
    try:
        if connection.in_atomic_block:
            # A savepoint, so a failed insert leaves the request's transaction usable.
            with transaction.atomic():
                row.save(force_insert=True)
        else:
            row.save(force_insert=True)  # autocommit: the INSERT alone, one round trip
    except DatabaseError as exc:
        # The error's class and SQLSTATE only: PostgreSQL's message can quote the failing
        # row, searched text included.
        log.error("read audit not written: %s by %s, call %s (%s %s)", action, row.actor_username, call_id,
                  type(exc).__name__, _sqlstate(exc))
        return None
    return row


def read_audit_count_rows(row, rows):
    """Yield `rows`, and when they are exhausted store how many there were on the audit
    row of an export (streamed: the count is known only at the end). An abandoned download
    keeps a NULL count."""
    count = 0
    for item in rows:
        count += 1
        yield item
    if row is None:
        return
    try:
        ReadAudit.objects.filter(pk=row.pk).update(row_count=count)
    except DatabaseError as exc:
        log.error("read audit row %s: export row count not stored (%s %s)", row.pk, type(exc).__name__, _sqlstate(exc))


def _sqlstate(exc):
    return getattr(exc.__cause__, "sqlstate", None) or ""


def read_audit_list(*, actor=None, call_id=None, action=None, after=None, before=None):
    """Audit rows, newest first, filtered (selector for the supervisors' API)."""
    rows = ReadAudit.objects.select_related("call").only(
        "id", "at", "actor_username", "action", "call_id", "call__reference", "remote_addr", "query", "filters",
        "row_count",
    )
    if actor:
        rows = rows.filter(actor_username=actor)
    if call_id is not None:
        rows = rows.filter(call_id=call_id)
    if action:
        rows = rows.filter(action=action)
    if after is not None:
        rows = rows.filter(at__gte=after)
    if before is not None:
        rows = rows.filter(at__lt=before)
    return rows.order_by("-at", "-id")
