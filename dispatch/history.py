"""The history page's reads: a page of calls as rows, and their representation.

The list is served from plain rows rather than CallSerializer over model instances (see
call_list_representation); tests/supervisor/test_history.py holds the two equal.
"""

from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import F
from django.utils import timezone

from calls.models import Call
from core.geo import GeographyCoord

from .models import Assignment

# The columns of a call's representation (CallSerializer) read straight into dicts.
_CALL_LIST_COLUMNS = (
    "id", "reference", "status", "priority", "caller_phone", "caller_name", "channel", "description", "address",
    "location_accuracy_m", "location_source", "received_at", "dispatched_at", "on_scene_at", "closed_at",
    "hold_reason", "merged_into_id", "unmet_needs", "disposition", "alarm",
)
_ASSIGNMENT_LIST_COLUMNS = (
    "id", "call_id", "unit_id", "unit__callsign", "unit__service", "status", "service", "capability", "distance_m",
    "eta_s", "route_m", "basis", "reason", "assigned_at", "ack_deadline", "acknowledged_at", "on_scene_at", "cleared_at", "ended_at", "end_reason",
    "reason_code", "reason_params", "end_reason_code", "end_reason_params",
)


@contextmanager
def short_reads(using=None):
    """A transaction for a page's few short queries, without parallel workers: on two cores
    launching one costs ~20 ms for a query that takes 5 ms alone (the map-area filter at
    1,000,000 calls: 25 ms with a worker, 4.6 ms without). `using`: the database the page
    is read from (core/replica.py)."""
    using = using or DEFAULT_DB_ALIAS
    with transaction.atomic(using=using), connections[using].cursor() as cur:
        cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        yield


def call_list_rows(queryset):
    """`queryset` (filtered Calls) as a values() queryset of the columns a history page shows,
    for the paginator to slice. See call_list_representation for why not model instances."""
    return queryset.annotate(
        x_lat=GeographyCoord("location", function="ST_Y"),
        x_lon=GeographyCoord("location", function="ST_X"),
        x_type=F("incident_type__code"),
    ).values(*_CALL_LIST_COLUMNS, "x_lat", "x_lon", "x_type")


def _datetime_formatter():
    """DRF's DateTimeField output (ISO 8601 in the current time zone, `Z` for UTC), without
    a field object per value."""
    tz = timezone.get_current_timezone()

    def fmt(value):
        if value is None:
            return None
        text = value.astimezone(tz).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return fmt


def call_list_representation(rows, using=None):
    """CallSerializer's representation of a page of `call_list_rows` dicts, in three queries
    (calls, their assignments with units, their possible duplicates).

    Model instances made a page cost ~4,000 objects in reference cycles (call ↔ prefetched
    assignments ↔ their call) and ~30 ms of serializer fields; at 1,000,000 calls that, and
    the collector passes it provoked, were most of the history page's p99. A test holds this
    function equal to CallSerializer for every kind of call. `using`: the database to read
    the assignments and duplicates from (the journal's representations read the primary).
    """
    ids = [row["id"] for row in rows]
    fmt = _datetime_formatter()
    assignments = {call_id: [] for call_id in ids}
    for a in Assignment.objects.db_manager(using).filter(call_id__in=ids).order_by("id").values(*_ASSIGNMENT_LIST_COLUMNS):
        assignments[a["call_id"]].append(a)
    duplicates = {call_id: [] for call_id in ids}
    for from_id, to_id in Call.possible_duplicates.through.objects.db_manager(using).filter(from_call_id__in=ids).values_list(
        "from_call_id", "to_call_id"
    ):
        duplicates[from_id].append(to_id)
    out = []
    for row in rows:
        call_id = row["id"]
        location = None
        if row["x_lat"] is not None:
            location = {"lat": row["x_lat"], "lon": row["x_lon"], "accuracy_m": row["location_accuracy_m"],
                        "source": row["location_source"]}
        out.append({
            "id": call_id,
            "reference": row["reference"],
            "status": row["status"],
            "priority": row["priority"],
            "incident_type": row["x_type"],
            "caller_phone": row["caller_phone"],
            "caller_name": row["caller_name"],
            "channel": row["channel"],
            "description": row["description"],
            "address": row["address"],
            "location": location,
            "received_at": fmt(row["received_at"]),
            "dispatched_at": fmt(row["dispatched_at"]),
            "on_scene_at": fmt(row["on_scene_at"]),
            "closed_at": fmt(row["closed_at"]),
            "hold_reason": row["hold_reason"] or None,
            "possible_duplicates": sorted(duplicates[call_id]),
            "merged_into": row["merged_into_id"],
            "unmet_needs": row["unmet_needs"],
            "assignments": [{
                "id": a["id"],
                "call": call_id,
                "call_reference": row["reference"],
                "unit": {"id": a["unit_id"], "callsign": a["unit__callsign"], "service": a["unit__service"]},
                "status": a["status"],
                "service": a["service"],
                "capability": a["capability"],
                "distance_m": a["distance_m"],
                "eta_s": a["eta_s"],
                "route_m": a["route_m"],
                "basis": a["basis"] or None,
                "reason": a["reason"],
                "reason_code": a["reason_code"],
                "reason_params": a["reason_params"],
                "assigned_at": fmt(a["assigned_at"]),
                "ack_deadline": fmt(a["ack_deadline"]),
                "acknowledged_at": fmt(a["acknowledged_at"]),
                "on_scene_at": fmt(a["on_scene_at"]),
                "cleared_at": fmt(a["cleared_at"]),
                "ended_at": fmt(a["ended_at"]),
                "end_reason": a["end_reason"],
                "end_reason_code": a["end_reason_code"],
                "end_reason_params": a["end_reason_params"],
            } for a in assignments[call_id]],
            "disposition": row["disposition"] or None,
            "alarm": row["alarm"],
        })
    return out
