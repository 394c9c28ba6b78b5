"""The history export (supervisors): the filtered calls as rows, and those rows as CSV."""

import csv
import io

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import F, OuterRef, Q
from django.utils import timezone

from calls.models import Call
from core.geo import GeographyCoord

from . import labels
from .models import Assignment

EXPORT_COLUMNS = (
    "reference", "received_at", "status", "priority", "incident_type", "caller_phone", "address", "lat", "lon",
    "dispatched_at", "on_scene_at", "closed_at", "disposition", "time_to_dispatch_s", "time_to_arrival_s", "units",
)
# The file's columns: each code (status, incident type, disposition) is followed by its
# name in the reader's language (issue 21); the codes stay for programs that read the file.
NAMED_COLUMNS = {
    "status": labels.status_labels,
    "incident_type": labels.incident_type_names,
    "disposition": lambda: {code: str(name) for code, name in labels.DISPOSITIONS.items()},
}
CSV_COLUMNS = tuple(name for column in EXPORT_COLUMNS
                    for name in ((column, f"{column}_name") if column in NAMED_COLUMNS else (column,)))
# Rows per keyset page of the export: memory stays at about one page (~1 MB with long
# addresses).
EXPORT_CHUNK_ROWS = 1000


def call_export_rows(queryset, chunk_size=None):
    """Yield one tuple per call of `queryset` (already filtered), newest first, in
    EXPORT_COLUMNS order, without ever holding more than `chunk_size` rows.

    Only the exported columns are selected (values_list), the units' callsigns come from a
    correlated array subquery (no join that would multiply rows), and the rows come in
    keyset pages of `chunk_size` on (received_at, id), each its own short query on the
    history index. No transaction spans the download: a supervisor's slow connection
    must not keep a snapshot open (vacuum) or trip idle_in_transaction_session_timeout.
    Calls that change while the export runs appear as they were when their page was
    read; ended calls never change.
    """
    if queryset.query.distinct:
        # The service/unit filters join and de-duplicate; keep them as a semi-join so the
        # export selects plain columns (DISTINCT over them would sort the whole result).
        queryset = Call.objects.using(queryset.db).filter(pk__in=queryset.order_by().values("pk"))
    callsigns = ArraySubquery(
        Assignment.objects.filter(call=OuterRef("pk")).order_by("assigned_at", "id").values("unit__callsign")
    )
    rows = (
        queryset.order_by("-received_at", "-id")
        .annotate(
            x_lat=GeographyCoord("location", function="ST_Y"),
            x_lon=GeographyCoord("location", function="ST_X"),
            x_type=F("incident_type__code"),
            x_units=callsigns,
        )
        .values_list(
            "reference", "received_at", "status", "priority", "x_type", "caller_phone", "address", "x_lat", "x_lon",
            "dispatched_at", "on_scene_at", "closed_at", "disposition", "x_units", "id",
        )
    )
    size = chunk_size or EXPORT_CHUNK_ROWS
    after = None
    while True:
        page = rows if after is None else rows.filter(
            Q(received_at__lt=after[0]) | Q(received_at=after[0], id__lt=after[1])
        )
        chunk = list(page[:size])
        for (ref, received, status, priority, type_, phone, address, lat, lon, dispatched, on_scene, closed,
             disposition, units, _pk) in chunk:
            yield (
                ref, received, status, priority, type_, phone, address, lat, lon, dispatched, on_scene, closed,
                disposition, _seconds(received, dispatched), _seconds(received, on_scene),
                list(dict.fromkeys(units or ())),  # a unit sent twice is listed once, in order
            )
        if len(chunk) < size:
            return
        after = (chunk[-1][1], chunk[-1][-1])


def _seconds(start, end):
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


# --- CSV ------------------------------------------------------------------------------------------

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection,
# OWASP): such cells get a leading apostrophe, which makes them text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, list):
        return csv_safe(";".join(value))
    if hasattr(value, "isoformat"):
        return timezone.localtime(value).isoformat()
    return csv_safe(value)


def csv_chunks(rows, chunk_chars=64 * 1024):
    """Encode selector rows as CSV, yielding bytes about every `chunk_chars` characters.

    The first chunk starts with a UTF-8 byte-order mark: without it Excel opens Cyrillic
    addresses as mojibake. The names are looked up here, in the request's language: the
    response streams later, maybe in another thread."""
    names = [NAMED_COLUMNS[column]() if column in NAMED_COLUMNS else None for column in EXPORT_COLUMNS]
    return _csv_chunks(rows, names, chunk_chars)


def _csv_chunks(rows, names, chunk_chars):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        cells = []
        for value, named in zip(row, names, strict=True):
            cells.append(_csv_cell(value))
            if named is not None:
                cells.append(_csv_cell(named.get(value, value)))
        writer.writerow(cells)
        if buffer.tell() >= chunk_chars:
            yield buffer.getvalue().encode()
            buffer = io.StringIO()  # a fresh buffer: truncate() would keep the old capacity
            writer = csv.writer(buffer)
    yield buffer.getvalue().encode()
