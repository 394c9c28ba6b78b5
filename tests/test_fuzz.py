"""Schemathesis against the served OpenAPI schema, as every persona: 0 server errors.

It runs the real ASGI server with real data (units, a call, an assignment), with a fixed
seed so a failure reproduces; change FUZZ_SEED to explore further.
"""

import os
import subprocess
import sys

import pytest

from calls.models import IncidentType
from calls.services import call_create
from dispatch import services
from tests.conftest import ROOT, crew, point
from tests.factories import UnitFactory, make_user, token_for

pytestmark = pytest.mark.realtime

SEED = os.environ.get("FUZZ_SEED", "112")
EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "8")


def test_api_fuzzing_finds_no_server_error(asgi_server):
    unit = UnitFactory(service="medical", capabilities=["als"])
    UnitFactory(service="police")
    call = call_create(actor=None, incident_type=IncidentType.objects.get(code="cardiac_arrest"),
                       location={"point": point(), "accuracy_m": 10})
    services.assign_unit(call_id=call.pk, unit_id=unit.pk)
    crew(unit)
    unit.refresh_from_db()
    tokens = {
        "supervisor": token_for(make_user("fuzz-sup", "supervisor")),
        "crew": token_for(unit.user),
        "gateway": token_for(make_user("fuzz-gw", "gateway")),
    }
    schema = f"http://127.0.0.1:{asgi_server.port}/api/schema/"
    # The personas run side by side: each run spends most of its time generating cases in
    # its own process, so on two cores three at once take about half as long as in turn.
    runs = {
        persona: subprocess.Popen(
            [sys.executable, "-m", "schemathesis.cli", "run", schema, "-H", f"Authorization: Token {token}",
             "--checks", "not_a_server_error", "--max-examples", EXAMPLES, "--seed", SEED,
             "--phases", "coverage,fuzzing", "--workers", "1", "--no-color"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for persona, token in tokens.items()
    }
    failures = []
    for persona, run in runs.items():
        try:
            output, _ = run.communicate(timeout=900)
        except subprocess.TimeoutExpired:
            run.kill()
            output, _ = run.communicate()
            failures.append(f"--- {persona}: still running after 900 s")
        if run.returncode != 0:
            failures.append(f"--- {persona}\n{output[-4000:]}")
    server_errors = [line for line in asgi_server.output().splitlines() if "Internal Server Error" in line]
    assert not failures and not server_errors, "\n".join(failures + server_errors[:20])
