"""manage.py simulate against a live stack: real uvicorn, a real Celery worker and beat.

A short, fast scenario (over 200 calls in 20 simulated minutes at 60x) whose integrity
checks must hold: every call the operators sent is stored, no unit was ever on two
assignments at once, every call ended, and one operator's websocket received exactly the
journal. The checks are read back by the simulator through the API, and the test reads
the database itself as well, so a simulator bug cannot hide a system bug."""

import io
import json
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import call_command

from calls.models import Call
from dispatch.models import Assignment
from tests.conftest import ROOT, process_env, start_beat
from units.models import Unit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def beat(transactional_db):
    proc = start_beat("sim-beat")
    yield proc
    proc.stop()


def test_a_simulated_rush_hour_keeps_every_integrity_check(asgi_server, live_worker, beat, tmp_path):
    out = io.StringIO()
    call_command(
        "simulate", "--local", "--base-url", f"http://127.0.0.1:{asgi_server.port}",
        "--duration", "20", "--speed", "60", "--seed", "3", "--start-hour", "12",
        "--calls-per-day", "13500", "--units", "police=10,medical=14,fire=6,utility=6",
        "--drain", "10", "--report", str(tmp_path), "--no-progress", stdout=out,
    )
    report = json.loads((tmp_path / "report.json").read_text())

    assert report["calls_sent"] >= 200
    assert report["calls_stored"] == report["calls_sent"] == report["calls_created"]
    assert report["double_assigned"] == 0
    assert report["calls_not_ended"] == 0
    assert report["events_missed"] == 0 and report["events_extra"] == 0
    assert report["events_journal"] > report["calls_sent"]
    assert all(report["checks"].values()), report["checks"]
    # The crews really worked through the API: acknowledged, drove and arrived. (How many
    # calls they finished within the drain depends on the machine's load: not asserted.)
    kpi = report["kpi"]
    assert sum(kpi["by_service"][s]["response"]["n"] for s in kpi["by_service"]) > 0
    assert Unit.objects.filter(callsign__startswith="SIM-").count() == 36

    # The database agrees, independently of the simulator's own read-back.
    tag = f"[sim {report['run_id']}]"
    calls = Call.objects.filter(description__startswith=tag)
    assert calls.count() == report["calls_sent"]
    assert not calls.exclude(status__in=["closed", "cancelled", "merged"]).exists()
    assert Assignment.objects.filter(call__in=calls, on_scene_at__isnull=False).exists()
    spans = {}
    for a in Assignment.objects.filter(call__in=calls).order_by("assigned_at"):
        spans.setdefault(a.unit_id, []).append((a.assigned_at, a.ended_at))
    for unit_spans in spans.values():
        for (_, end), (start, _) in zip(unit_spans, unit_spans[1:], strict=False):
            assert end is not None and end <= start

    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 7
    assert "http://" not in page.replace(report["base_url"], "")  # self-contained: nothing to fetch
    assert "report.html" in out.getvalue()


def test_ctrl_c_stops_the_day_cleanly_and_still_writes_the_report(asgi_server, live_worker, beat, tmp_path):
    """The first Ctrl+C: no new calls, the open ones wound down, the report written."""
    args = [sys.executable, "manage.py", "simulate", "--local", "--base-url", f"http://127.0.0.1:{asgi_server.port}",
            "--duration", "120", "--speed", "60", "--seed", "5", "--start-hour", "12", "--calls-per-day", "13500",
            "--units", "police=6,medical=8,fire=4,utility=4", "--drain", "10", "--report", str(tmp_path),
            "--no-progress"]
    run = subprocess.Popen(args, cwd=ROOT, env=process_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        # Interrupt while calls are coming in and crews are out (2 simulated hours would be 2 minutes).
        deadline = time.monotonic() + 90
        while Call.objects.filter(description__startswith="[sim ").count() < 15:
            assert run.poll() is None, run.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "no calls arrived"
            time.sleep(0.2)
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, err[-3000:]

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["interrupted"] is True
    assert 15 <= report["calls_sent"] < report["calls_scheduled"]
    assert report["calls_stored"] == report["calls_sent"]
    # Wound down, not abandoned: what was open is cancelled and nothing stays assigned.
    assert report["calls_not_ended"] == 0 and report["double_assigned"] == 0
    assert report["events_missed"] == 0 and all(report["checks"].values()), report["checks"]
    assert (tmp_path / "report.html").exists() and "report.html" in out

    calls = Call.objects.filter(description__startswith=f"[sim {report['run_id']}]")
    assert calls.count() == report["calls_sent"]
    assert not calls.exclude(status__in=["closed", "cancelled", "merged"]).exists()
    assert not Assignment.objects.filter(call__in=calls, ended_at__isnull=True).exists()
