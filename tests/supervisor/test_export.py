"""GET /calls/export.csv: the filtered history as CSV, streamed in bounded memory."""

import csv
import io
import tracemalloc
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.utils import timezone

from calls.models import Call, IncidentType
from dispatch import export
from dispatch.export import csv_safe
from tests.conftest import point
from tests.factories import UnitFactory, token_for

from .builders import make_assignment, make_call

pytestmark = pytest.mark.django_db

EXPORT = "/api/v1/calls/export.csv"
HEADER = ["reference", "received_at", "status", "status_name", "priority", "incident_type", "incident_type_name",
          "caller_phone", "address", "lat", "lon", "dispatched_at", "on_scene_at", "closed_at", "disposition",
          "disposition_name", "time_to_dispatch_s", "time_to_arrival_s", "units"]


def read_csv(response):
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_export_has_the_columns_times_and_callsigns(supervisor_client):
    unit_a, unit_b = UnitFactory(callsign="A-12"), UnitFactory(callsign="P-101", service="police")
    received = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    call = make_call(received, dispatch_s=42, on_scene_s=300, caller_phone="+77011234567",
                     address="пр. Кабанбай батыра, 11", location=point(51.128, 71.43), disposition="resolved")
    make_assignment(call, unit_a, after_s=42, ack_s=3, on_scene_s=250)
    make_assignment(call, unit_b, after_s=50, status="declined")
    make_assignment(call, unit_a, after_s=90, status="cancelled")  # sent twice: listed once
    response = supervisor_client.get(EXPORT)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="calls-')
    header, row = read_csv(response)
    assert header == HEADER
    values = dict(zip(header, row, strict=True))
    assert values["reference"] == call.reference and values["status"] == "closed" and values["priority"] == "1"
    assert values["incident_type"] == "cardiac_arrest" and values["disposition"] == "resolved"
    assert values["address"] == "пр. Кабанбай батыра, 11"
    assert values["caller_phone"] == "'+77011234567"  # a leading + is a formula to a spreadsheet
    assert (float(values["lat"]), float(values["lon"])) == (51.128, 71.43)
    assert values["received_at"] == timezone.localtime(received).isoformat()
    assert values["time_to_dispatch_s"] == "42.0" and values["time_to_arrival_s"] == "300.0"
    assert values["units"] == "A-12;P-101"
    assert values["on_scene_at"] and values["dispatched_at"]
    # Beside each code its name, in the reader's language (Russian by default; English asked).
    names = IncidentType.objects.get(code="cardiac_arrest")
    assert (values["incident_type_name"], values["status_name"], values["disposition_name"]) == (
        names.name_ru, "Закрыт", "Решено")
    header, row = read_csv(supervisor_client.get(EXPORT, HTTP_ACCEPT_LANGUAGE="en"))
    values = dict(zip(header, row, strict=True))
    assert (values["incident_type"], values["incident_type_name"], values["status_name"], values["disposition_name"]) == (
        "cardiac_arrest", names.name_en, "Closed", "Resolved")


def test_export_applies_the_history_filters_and_rejects_bad_ones(supervisor_client, operator):
    now = timezone.now()
    mine = make_call(now, created_by=operator, type_code="noise_complaint")
    make_call(now - timedelta(minutes=1), type_code="noise_complaint")
    medical = make_call(now - timedelta(minutes=2))  # cardiac arrest: its plan asks for medical
    rows = read_csv(supervisor_client.get(EXPORT, {"operator": "op1"}))
    assert [r[0] for r in rows[1:]] == [mine.reference]
    rows = read_csv(supervisor_client.get(EXPORT, {"service": "medical"}))  # a join + distinct filter
    assert [r[0] for r in rows[1:]] == [medical.reference]
    for params, field in [({"status": "lost"}, "status"), ({"received_after": "never"}, "received_after"),
                          ({"bbox": "1,2,3"}, "bbox")]:
        response = supervisor_client.get(EXPORT, params)
        assert response.status_code == 400 and field in response.json()


@pytest.mark.parametrize("value,expected", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+7 701", "'+7 701"), ("-1+1", "'-1+1"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("ул. Абая 1", "ул. Абая 1"), ("", ""), (3, 3),
])
def test_cells_that_a_spreadsheet_would_run_are_made_text(value, expected):
    assert csv_safe(value) == expected


def test_injected_address_is_neutralised_in_the_file(supervisor_client):
    make_call(timezone.now(), address='=cmd|" /C calc"!A0')
    (_, row) = read_csv(supervisor_client.get(EXPORT))
    assert row[HEADER.index("address")] == '\'=cmd|" /C calc"!A0'


def test_five_thousand_calls_stream_chunk_by_chunk_in_bounded_memory(supervisor_client, monkeypatch):
    # Smaller cursor batches than production's, so that "one batch" and "the whole file"
    # are far apart even at 5,000 rows.
    monkeypatch.setattr(export, "EXPORT_CHUNK_ROWS", 250)
    incident_type = IncidentType.objects.get(code="cardiac_arrest")
    now = timezone.now()
    address = "проспект Кабанбай батыра, дом 11, подъезд 2, " * 9  # ~420 characters: a 2.5 MB file
    Call.objects.bulk_create(
        [Call(incident_type=incident_type, priority=1, status="closed", received_at=now - timedelta(seconds=i),
              reference=f"C-2026-{i:06d}", address=address, location=point(), location_accuracy_m=10)
         for i in range(5000)],
        batch_size=1000,
    )
    response = supervisor_client.get(EXPORT)
    assert isinstance(response, StreamingHttpResponse) and response.streaming
    chunks = iter(response.streaming_content)
    first = next(chunks)
    # The first chunk is out before the rest exists: a few hundred rows, not 5,000.
    assert first.startswith("\ufeffreference,".encode()) and len(first) < 200_000
    tracemalloc.start()
    try:
        total, rows, largest = len(first), first.count(b"\n"), 0
        for chunk in chunks:  # consumed and dropped one by one, as a server sends them
            total, rows, largest = total + len(chunk), rows + chunk.count(b"\n"), max(largest, len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == 5001 and total > 2_000_000
    assert largest < 200_000
    # Loading the calls at once would take more than the file's size; streaming keeps
    # one cursor batch and one CSV chunk in memory.
    assert peak < total / 3, (peak, total)


def test_export_streams_through_a_real_asgi_server(asgi_server, supervisor):
    """Under ASGI Django would buffer a sync iterator whole; the view hands uvicorn an async
    one, so the body arrives in chunks (and the cursor runs in the request's thread)."""
    import requests

    incident_type = IncidentType.objects.get(code="noise_complaint")
    now = timezone.now()
    Call.objects.bulk_create([
        Call(incident_type=incident_type, priority=4, status="closed", received_at=now - timedelta(seconds=i),
             reference=f"C-2026-{i:06d}", address="ул. Абая, " + "д" * 200)
        for i in range(3000)
    ])
    url = f"http://127.0.0.1:{asgi_server.port}/api/v1/calls/export.csv?incident_type=noise_complaint"
    with requests.get(url, headers={"Authorization": f"Token {token_for(supervisor)}"}, stream=True,
                      timeout=30) as response:
        assert response.status_code == 200
        assert response.headers.get("Transfer-Encoding") == "chunked"
        pieces = [piece for piece in response.iter_content(chunk_size=None) if piece]
    body = b"".join(pieces).decode("utf-8-sig")
    assert len(pieces) > 3
    lines = body.splitlines()
    assert lines[0].startswith("reference,received_at") and len(lines) == 3001
    assert asgi_server.popen.poll() is None
    assert "StreamingHttpResponse must consume" not in asgi_server.output()


def test_keyset_pages_give_every_call_once_in_order_even_with_equal_times():
    same = timezone.now().replace(microsecond=0) - timedelta(hours=2)
    for i in range(23):
        make_call(same if i % 3 else same - timedelta(seconds=i))  # many calls share a received_at
    whole = list(export.call_export_rows(Call.objects.all(), chunk_size=1000))
    paged = list(export.call_export_rows(Call.objects.all(), chunk_size=4))
    assert paged == whole and len(whole) == 23
    assert len({row[0] for row in paged}) == 23


@pytest.mark.django_db(transaction=True)
def test_no_transaction_is_held_while_the_client_reads_the_download():
    """Issue 13, item 7: a slow download held one open for its whole length."""
    for i in range(12):
        make_call(timezone.now() - timedelta(minutes=i))
    rows = export.call_export_rows(Call.objects.all(), chunk_size=5)
    first = next(rows)
    assert first is not None
    assert not connection.in_atomic_block
    assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert len(list(rows)) == 11
