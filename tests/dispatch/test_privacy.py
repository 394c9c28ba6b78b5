"""Personal data (issue 14): the read audit and the retention that erases callers' data.

Calls are made, worked and ended through the API and the services, then aged by moving
their timestamps back, so the journal, the metrics and the assignments are the ones the
system really writes.
"""

import csv
import io
import json
import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from calls.models import AmlMessage, Call
from core.models import Event
from dispatch import retention, tasks
from dispatch.models import Assignment, CallMetrics, ReadAudit
from tests.conftest import client_for, crew, point
from tests.factories import UnitFactory, make_user, new_call

pytestmark = pytest.mark.django_db

CALLS = "/api/v1/calls/"
AUDIT = "/api/v1/audit/"
PHONE = "+77011234567"
NAME = "Айгерим Сапарова"
DESCRIPTION = "Husband collapsed, not breathing, history of heart disease"
ADDRESS = "пр. Кабанбай батыра, 11, кв. 42"
NOTE = "caller's daughter has the door code 4417"
CLOSING = "taken to City Hospital 1, diabetic"
# An exact position inside a block: 51.12834, 71.43047 snaps to 51.128, 71.430.
EXACT = (51.12834, 71.43047)


def worked_call(client, unit, *, description=DESCRIPTION):
    """A call taken, annotated, served by `unit` and closed with notes, through the API."""
    created = client.post(CALLS, {
        "incident_type": "cardiac_arrest", "caller_phone": PHONE, "caller_name": NAME, "description": description,
        "location": {"lat": EXACT[0], "lon": EXACT[1], "accuracy_m": 8},
    }, format="json").json()
    url = f"{CALLS}{created['id']}/"
    assert client.post(f"{url}assign/", {"unit": unit.pk}, format="json").status_code == 200
    assert client.post(f"{url}notes/", {"text": NOTE}, format="json").status_code == 200
    AmlMessage.objects.create(
        msisdn=PHONE, raw=f"A\"ML=2;lt=+{EXACT[0]};lg=+{EXACT[1]};rd=8;si=401011234567890", accepted=True,
        parsed={"version": "2", "positioning": "gnss", "fields": {"si": "401011234567890", "lt": str(EXACT[0])}},
        location=point(*EXACT), accuracy_m=8.0, call_id=created["id"],
    )
    assert client.post(f"{url}close/", {"disposition": "transported", "notes": CLOSING},
                       format="json").status_code == 200
    return Call.objects.get(pk=created["id"])


def age(call, days):
    """Move a call's life `days` into the past (received, dispatched, on scene, ended)."""
    shift = timedelta(days=days)
    fields = {f: getattr(call, f) - shift for f in ("received_at", "dispatched_at", "on_scene_at", "closed_at")
              if getattr(call, f) is not None}
    Call.objects.filter(pk=call.pk).update(**fields)
    return Call.objects.get(pk=call.pk)


def journal_text(call):
    return json.dumps([[e.summary, e.data] for e in Event.objects.filter(call=call)], ensure_ascii=False)


@pytest.fixture
def unit(db):
    return UnitFactory(callsign="A-7", service="medical", capabilities=["als"], location=point(51.13, 71.43))


# --- the read audit --------------------------------------------------------------------------------


def test_detail_timeline_and_eido_reads_are_audited_with_reader_call_and_address(operator_client, operator,
                                                                                   supervisor_client, supervisor):
    call = new_call(caller_phone=PHONE)
    assert operator_client.get(f"{CALLS}{call.pk}/").status_code == 200
    assert operator_client.get(f"{CALLS}{call.pk}/timeline/").status_code == 200
    assert supervisor_client.get(f"{CALLS}{call.pk}/eido/").status_code == 200
    rows = list(ReadAudit.objects.order_by("id").values("actor", "actor_username", "action", "call", "remote_addr"))
    assert rows == [
        {"actor": operator.pk, "actor_username": "op1", "action": "call.viewed", "call": call.pk,
         "remote_addr": "127.0.0.1"},
        {"actor": operator.pk, "actor_username": "op1", "action": "call.timeline", "call": call.pk,
         "remote_addr": "127.0.0.1"},
        {"actor": supervisor.pk, "actor_username": "sup1", "action": "call.eido", "call": call.pk,
         "remote_addr": "127.0.0.1"},
    ]


def test_a_search_is_audited_with_its_text_filters_and_row_count_and_a_plain_list_is_not(operator_client):
    new_call(caller_phone=PHONE)
    new_call(caller_phone="+77019998877")
    assert operator_client.get(f"{CALLS}?status=pending,dispatched&page_size=20").status_code == 200
    assert not ReadAudit.objects.exists()  # the console's queue: routine, not audited
    assert operator_client.get(f"{CALLS}?q=%20%20").status_code == 200  # blank text: no search
    assert not ReadAudit.objects.exists()
    found = operator_client.get(f"{CALLS}?q=1234567&status=pending,dispatched&page_size=20").json()
    assert len(found["results"]) == 1
    row = ReadAudit.objects.get()
    assert (row.action, row.call_id, row.query, row.row_count) == ("calls.searched", None, "1234567", 1)
    assert row.filters == {"status": "pending,dispatched"}  # paging is not a filter


def test_an_export_is_audited_with_its_filters_and_the_rows_it_sent(supervisor_client, supervisor):
    for _ in range(3):
        new_call(caller_phone=PHONE)
    response = supervisor_client.get("/api/v1/calls/export.csv?status=pending,dispatched&q=%2B7701")
    assert response.status_code == 200
    row = ReadAudit.objects.get()
    assert (row.actor_id, row.action, row.query, row.filters) == (
        supervisor.pk, "calls.exported", "+7701", {"status": "pending,dispatched"})
    assert row.row_count is None  # the download has not been read yet
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert len(lines) == 4
    row.refresh_from_db()
    assert row.row_count == 3


def test_responders_own_call_and_refused_or_missing_reads_are_not_audited(operator_client, anon_client, unit):
    call = new_call(caller_phone=PHONE)
    from dispatch.services import assign_unit

    assign_unit(call_id=call.pk, unit_id=unit.pk)
    me = crew(unit).get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["call"]["id"] == call.pk  # routine for a crew: not audited
    assert operator_client.get(f"{CALLS}424242/").status_code == 404
    assert anon_client.get(f"{CALLS}{call.pk}/").status_code in (401, 403)
    assert operator_client.get(f"{CALLS}?q={'x' * 201}").status_code == 400
    assert not ReadAudit.objects.exists()


def test_a_failing_audit_insert_is_logged_without_the_text_and_the_read_still_answers(operator_client, caplog):
    call = new_call(caller_phone=PHONE)
    with connection.cursor() as cur:  # a real database failure on the audit table, not a mock
        cur.execute("CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'audit refused'; END $$")
        cur.execute("CREATE TRIGGER refuse BEFORE INSERT ON dispatch_readaudit FOR EACH ROW "
                    "EXECUTE FUNCTION pg_temp.refuse()")
    with caplog.at_level(logging.ERROR, logger="dispatch.audit"):
        assert operator_client.get(f"{CALLS}{call.pk}/").json()["caller_phone"] == PHONE
        assert operator_client.get(f"{CALLS}?q=Secret%20Name").status_code == 200
    assert not ReadAudit.objects.exists()
    assert "read audit not written: call.viewed by op1" in caplog.text
    assert "Secret" not in caplog.text


def test_supervisors_read_the_audit_newest_first_with_filters(operator_client, supervisor_client, operator):
    first, second = new_call(), new_call()
    other = client_for(user=make_user("op2", "operator"))
    operator_client.get(f"{CALLS}{first.pk}/")
    other.get(f"{CALLS}{second.pk}/")
    operator_client.get(f"{CALLS}{second.pk}/timeline/")
    operator_client.get(f"{CALLS}?q=Kabanbay")

    page = supervisor_client.get(AUDIT).json()
    assert [(r["actor"], r["action"], r["call"]) for r in page["results"]] == [
        ("op1", "calls.searched", None), ("op1", "call.timeline", second.pk), ("op2", "call.viewed", second.pk),
        ("op1", "call.viewed", first.pk),
    ]
    assert page["results"][0]["query"] == "Kabanbay" and page["results"][1]["call_reference"] == second.reference

    def actions(query):
        response = supervisor_client.get(f"{AUDIT}?{query}")
        assert response.status_code == 200, response.json()
        return [(r["actor"], r["action"]) for r in response.json()["results"]]

    assert actions(f"call={second.pk}") == [("op1", "call.timeline"), ("op2", "call.viewed")]
    assert actions("actor=op2") == [("op2", "call.viewed")]
    assert actions("action=calls.searched") == [("op1", "calls.searched")]
    middle = ReadAudit.objects.get(action="call.timeline").at
    assert actions(f"after={middle.isoformat().replace('+', '%2B')}") == [("op1", "calls.searched"),
                                                                          ("op1", "call.timeline")]
    assert len(actions(f"before={middle.isoformat().replace('+', '%2B')}")) == 2
    two = supervisor_client.get(f"{AUDIT}?page_size=2").json()
    assert len(two["results"]) == 2 and two["next"]
    assert [r["action"] for r in supervisor_client.get(two["next"]).json()["results"]] == ["call.viewed", "call.viewed"]


@pytest.mark.parametrize("query, field", [
    ("call=abc", "call"), ("call=0", "call"), ("call=99999999999999999999", "call"), ("action=call.deleted", "action"),
    ("after=yesterday", "after"), ("after=2026-01-02T00:00Z&before=2026-01-01T00:00Z", "before"),
    ("actor=" + "x" * 151, "actor"),
])
def test_bad_audit_filters_are_a_400_naming_the_field(supervisor_client, query, field):
    response = supervisor_client.get(f"{AUDIT}?{query}")
    assert response.status_code == 400 and field in response.json()


def test_only_supervisors_read_the_audit(anon_client, operator_client, gateway_client, unit):
    assert anon_client.get(AUDIT).status_code in (401, 403)
    assert operator_client.get(AUDIT).status_code == 403
    assert gateway_client.get(AUDIT).status_code == 403
    assert crew(unit).get(AUDIT).status_code == 403


def test_audit_rows_are_not_journal_events(operator_client):
    call = new_call()
    before = Event.objects.count()
    operator_client.get(f"{CALLS}{call.pk}/")
    assert ReadAudit.objects.count() == 1 and Event.objects.count() == before


# --- retention ---------------------------------------------------------------------------------


def test_retention_erases_exactly_the_personal_data_of_calls_ended_before_the_period(operator_client, unit):
    call = age(worked_call(operator_client, unit), 400)
    before = Call.objects.get(pk=call.pk)
    assignments = list(Assignment.objects.filter(call=call).values())
    metrics = CallMetrics.objects.filter(call=call).values().get()
    assert PHONE in journal_text(call) and NOTE in journal_text(call) and CLOSING in journal_text(call)

    counts = retention.personal_data_erase(days=365)

    assert (counts.calls, counts.aml_messages) == (1, 1) and counts.journal_rows >= 4
    after = Call.objects.get(pk=call.pk)
    assert (after.caller_phone, after.caller_name, after.description, after.address) == ("", "", "", "")
    assert after.personal_data_erased_at is not None
    # the facts stay
    for field in ("reference", "status", "priority", "incident_type_id", "channel", "received_at", "dispatched_at",
                  "on_scene_at", "closed_at", "disposition", "location_accuracy_m", "location_source", "created_by_id"):
        assert getattr(after, field) == getattr(before, field), field
    assert (round(after.location.y, 6), round(after.location.x, 6)) == (51.128, 71.43)  # the 0.001° grid
    assert list(Assignment.objects.filter(call=call).values()) == assignments
    assert CallMetrics.objects.filter(call=call).values().get() == metrics
    # the journal keeps its rows and facts, without the caller
    text = journal_text(call)
    for secret in (PHONE, NAME, DESCRIPTION, NOTE, CLOSING, "кв. 42", str(EXACT[0]), str(EXACT[1])):
        assert secret not in text, secret
    summaries = list(Event.objects.filter(call=call, type="call.updated").values_list("summary", flat=True))
    assert "note: (erased)" in summaries and "closed: transported" in summaries
    created = Event.objects.filter(call=call, type="call.created").get()
    assert created.data["incident_type"] == "cardiac_arrest" and created.data["location"]["lat"] == 51.128
    assert created.data["reference"] == call.reference and created.data["caller_phone"] == ""
    aml = AmlMessage.objects.get(call=call)
    assert (aml.msisdn, aml.raw, "fields" in aml.parsed) == ("", "", False)
    assert aml.parsed["positioning"] == "gnss" and aml.accuracy_m == 8.0
    assert (round(aml.location.y, 6), round(aml.location.x, 6)) == (51.128, 71.43)
    # a note after the erasure would outlive the retention: refused
    late = operator_client.post(f"/api/v1/calls/{call.pk}/notes/", {"text": "late note"}, format="json",
                                HTTP_ACCEPT_LANGUAGE="en")
    assert late.status_code == 409 and "erased" in late.json()["detail"]


def test_open_calls_and_recently_ended_calls_are_left_alone(operator_client, unit):
    ancient_open = new_call(caller_phone=PHONE, caller_name=NAME, description=DESCRIPTION)
    ancient_open = age(ancient_open, 1000)  # open, however old
    recent = age(worked_call(operator_client, UnitFactory(service="medical", location=point(51.13, 71.43))), 300)
    assert retention.personal_data_erase(days=365).calls == 0
    for call in (ancient_open, recent):
        kept = Call.objects.get(pk=call.pk)
        assert (kept.caller_phone, kept.caller_name, kept.description) == (PHONE, NAME, DESCRIPTION)
        assert kept.personal_data_erased_at is None and PHONE in journal_text(call)
    assert AmlMessage.objects.get(call=recent).msisdn == PHONE


def test_cancelled_and_merged_calls_are_erased_and_a_call_without_closed_at_ages_by_received_at(operator_client):
    from dispatch.services import call_cancel, call_merge

    kept = new_call(lat=51.2, lon=71.5)
    cancelled = new_call(caller_phone=PHONE, lat=51.3, lon=71.6)
    call_cancel(call_id=cancelled.pk, reason=f"caller {NAME} says it was a mistake")
    merged = new_call(caller_phone=PHONE, lat=51.4, lon=71.7)
    call_merge(call_id=merged.pk, into_id=kept.pk)
    imported = new_call(caller_phone=PHONE, lat=51.5, lon=71.8)
    Call.objects.filter(pk=imported.pk).update(status="closed", closed_at=None)
    for call in (cancelled, merged, imported):
        age(Call.objects.get(pk=call.pk), 400)
    assert retention.personal_data_erase(days=365).calls == 3
    assert set(Call.objects.filter(caller_phone="").values_list("pk", flat=True)) >= {
        cancelled.pk, merged.pk, imported.pk}
    assert NAME not in journal_text(cancelled)
    assert "cancelled" in Event.objects.filter(call=cancelled).values_list("summary", flat=True)
    assert Call.objects.get(pk=kept.pk).personal_data_erased_at is None


def test_a_partner_alarms_picture_link_is_erased_and_its_facts_kept(operator_client):
    from dispatch.services import call_cancel

    alarm = {"source": "sergek", "source_name": "Sergek", "kind": "crash", "external_id": "cam-7/991",
             "occurred_at": "2025-01-01T10:00:00+05:00", "media_url": "https://cams.example.kz/991.jpg"}
    call = new_call(channel="alarm", alarm=alarm, lat=51.3, lon=71.6)
    call_cancel(call_id=call.pk, reason="false alarm")
    age(Call.objects.get(pk=call.pk), 400)
    assert retention.personal_data_erase(days=365).calls == 1
    after = Call.objects.get(pk=call.pk)
    assert after.alarm == {key: value for key, value in alarm.items() if key != "media_url"}
    assert "991.jpg" not in journal_text(call)
    assert any((e.data.get("alarm") or {}).get("kind") == "crash" for e in Event.objects.filter(call=call))


def test_a_second_pass_erases_nothing_and_a_dry_run_changes_nothing(operator_client, unit, capsys):
    call = age(worked_call(operator_client, unit), 400)
    ReadAudit.objects.create(at=timezone.now() - timedelta(days=400), actor_username="op1", action="calls.searched",
                             query=PHONE, filters={"near": "51.128,71.43,100", "status": "closed"})
    snapshot = (journal_text(call), list(Call.objects.filter(pk=call.pk).values()),
                list(AmlMessage.objects.values()), list(ReadAudit.objects.values()))

    call_command("erase_personal_data", "--days", "365", "--dry-run")
    dry = capsys.readouterr().out
    assert "would erase (ended more than 365 days ago): 1 call(s), 1 AML message(s)" in dry
    assert "search text of 1 audit row(s)" in dry
    assert snapshot == (journal_text(call), list(Call.objects.filter(pk=call.pk).values()),
                        list(AmlMessage.objects.values()), list(ReadAudit.objects.values()))

    call_command("erase_personal_data", "--days", "365")
    real = capsys.readouterr().out
    assert real.replace("erased", "would erase", 1) == dry  # the dry run counted exactly this
    call_command("erase_personal_data", "--days", "365")
    assert "erased (ended more than 365 days ago): 0 call(s), 0 AML message(s), 0 journal row(s); " \
           "search text of 0 audit row(s)" in capsys.readouterr().out


def test_the_command_refuses_a_bad_period():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--days"):
        call_command("erase_personal_data", "--days", "0")


def test_old_search_texts_and_unclaimed_aml_messages_are_erased_recent_ones_kept():
    now = timezone.now()
    old = ReadAudit.objects.create(at=now - timedelta(days=400), actor_username="op1", action="calls.searched",
                                   query=PHONE, filters={"near": "51.128,71.43,100", "status": "closed"}, row_count=2)
    new = ReadAudit.objects.create(at=now - timedelta(days=3), actor_username="op1", action="calls.searched",
                                   query=PHONE, filters={"near": "51.128,71.43,100"})
    stray_old = AmlMessage.objects.create(msisdn=PHONE, raw="lt=bad", accepted=False, reason="lt: 'bad' is not a number")
    AmlMessage.objects.filter(pk=stray_old.pk).update(received_at=now - timedelta(days=400))
    stray_new = AmlMessage.objects.create(msisdn=PHONE, raw="lt=bad", accepted=False, reason="lt: 'bad' is not a number")
    counts = retention.personal_data_erase(days=365)
    assert (counts.audit_rows, counts.aml_messages) == (1, 1)
    old.refresh_from_db()
    assert (old.query, old.filters, old.row_count, old.actor_username) == ("", {"status": "closed"}, 2, "op1")
    new.refresh_from_db()
    assert new.query == PHONE
    stray_old.refresh_from_db()
    assert (stray_old.msisdn, stray_old.raw, stray_old.reason) == ("", "", "lt: '…' is not a number")
    assert AmlMessage.objects.get(pk=stray_new.pk).msisdn == PHONE


def test_erased_calls_are_still_listed_searched_and_shown(operator_client, supervisor_client, unit):
    call = age(worked_call(operator_client, unit), 400)
    retention.personal_data_erase(days=365)
    shown = operator_client.get(f"{CALLS}{call.pk}/").json()
    assert (shown["caller_phone"], shown["caller_name"], shown["description"], shown["address"]) == ("", "", "", "")
    assert shown["location"]["lat"] == pytest.approx(51.128) and shown["status"] == "closed"
    listed = operator_client.get(f"{CALLS}?q={call.reference}").json()["results"]
    assert [c["id"] for c in listed] == [call.pk] and listed[0]["caller_phone"] == ""
    assert operator_client.get(f"{CALLS}?q=1234567").json()["results"] == []
    assert operator_client.get(f"{CALLS}?q=Husband").json()["results"] == []
    assert supervisor_client.get(f"{CALLS}{call.pk}/eido/").status_code == 200
    assert supervisor_client.get("/api/v1/calls/export.csv").status_code == 200
    stats = supervisor_client.get("/api/v1/stats/", {"received_after": (call.received_at - timedelta(days=1)).isoformat(),
                                                     "received_before": (call.received_at + timedelta(days=1)).isoformat()})
    assert stats.status_code == 200


def test_retention_zero_keeps_everything(operator_client, unit):
    call = age(worked_call(operator_client, unit), 4000)
    with override_settings(PERSONAL_DATA_RETENTION_DAYS=0):
        assert retention.personal_data_erase().calls == 0
        call_command("erase_personal_data")
    assert Call.objects.get(pk=call.pk).caller_phone == PHONE


def test_batches_cover_every_due_call(operator_client):
    calls = []
    for i in range(7):
        call = new_call(caller_phone=PHONE, lat=51.1 + i / 100)
        from dispatch.services import call_close

        call_close(call_id=call.pk, disposition="resolved", notes=NOTE)
        calls.append(age(Call.objects.get(pk=call.pk), 400 + i % 3))  # ties and disorder in closed_at
    counts = retention.personal_data_erase(days=365, batch_size=2)
    assert counts.calls == 7
    assert not Call.objects.filter(pk__in=[c.pk for c in calls], personal_data_erased_at__isnull=True).exists()


def test_the_daily_task_runs_the_retention_through_celery(operator_client, unit):
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULE["erase-personal-data"]["task"] == tasks.erase_personal_data.name
    call = age(worked_call(operator_client, unit), 400)
    with override_settings(PERSONAL_DATA_RETENTION_DAYS=365):
        result = tasks.erase_personal_data.apply()
    assert result.successful()
    assert result.get()["calls"] == 1 and result.get()["finished"] is True
    assert Call.objects.get(pk=call.pk).caller_phone == ""
