"""The run command's supervisor, and the Procfile in a checkout the bootstrap never saw.

Both run the real processes: supervisord from deploy/supervisord.local.conf (what `make
run` starts) and the Procfile's lines through scripts/proc.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import requests

from dispatch.models import Assignment
from tests.conftest import ROOT, Proc, free_port, point, process_env, wait_for
from tests.factories import UnitFactory, make_user, token_for

pytestmark = [pytest.mark.worker, pytest.mark.realtime]

VENV_BIN = os.path.dirname(sys.executable)


def _ctl(run_dir, *args):
    out = subprocess.run([os.path.join(VENV_BIN, "supervisorctl"), "-c", str(ROOT / "deploy/supervisord.local.conf"),
                          *args], env={**os.environ, "DISPATCH_RUN_DIR": str(run_dir), "PORT": "0"},
                         capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


def _pid(run_dir, program):
    value = _ctl(run_dir, "pid", program)
    return int(value) if value.isdigit() and value != "0" else None


def _children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _running(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _healthz(port):
    return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=3)


def _post_call(port, token, lat):
    return requests.post(f"http://127.0.0.1:{port}/api/v1/calls/", timeout=5,
                         headers={"Authorization": f"Token {token}"},
                         json={"incident_type": "noise_complaint", "location": {"lat": lat, "lon": 71.43}})


def test_run_command_restarts_a_killed_worker_while_web_keeps_serving(transactional_db, tmp_path):
    token = token_for(make_user("op-sup", "operator"))
    police = [UnitFactory(service="police", location=point(51.10 + i * 0.01, 71.43)) for i in range(2)]
    port = free_port()
    sup = Proc([os.path.join(VENV_BIN, "supervisord"), "-c", str(ROOT / "deploy/supervisord.local.conf")],
               process_env(PORT=port, DISPATCH_RUN_DIR=tmp_path, WEB_CONCURRENCY=1, CELERY_CONCURRENCY=1,
                           DISPATCH_SWEEP_INTERVAL_S=1, PATH=f"{VENV_BIN}:{os.environ['PATH']}"),
               "test-supervisord.log")
    try:
        wait_for(lambda: "ready." in sup.output() and _pid(tmp_path, "beat"), timeout=60,
                 message="the three processes under supervisord")
        wait_for(lambda: _try_get(port), timeout=30, message="web answering")
        first = _post_call(port, token, 51.10)
        assert first.status_code == 201, first.content
        wait_for(lambda: Assignment.objects.filter(call_id=first.json()["id"]).exists(), message="first dispatch")

        old_worker = _pid(tmp_path, "worker")
        web_pid = _pid(tmp_path, "web")
        children = _children(old_worker)
        assert children  # the prefork pool
        os.kill(old_worker, signal.SIGKILL)
        # The web keeps answering while the worker is down, and accepts calls.
        during = _post_call(port, token, 51.11)
        assert during.status_code == 201, during.content
        deadline = time.monotonic() + 30
        while (_pid(tmp_path, "worker") in (None, old_worker)) and time.monotonic() < deadline:
            assert _healthz(port).status_code in (200, 503)
            time.sleep(0.2)
        new_worker = _pid(tmp_path, "worker")
        assert new_worker not in (None, old_worker)
        assert _pid(tmp_path, "web") == web_pid  # the others kept running
        # The call taken while no worker ran is dispatched by the new one.
        wait_for(lambda: Assignment.objects.filter(call_id=during.json()["id"]).exists(), timeout=30,
                 message="the call taken during the restart to be dispatched")
        # The killed worker's pool processes did not linger.
        wait_for(lambda: not [pid for pid in children if _running(pid)], timeout=10,
                 message="the killed worker's children to exit")
        log = sup.output()
        assert re.search(r"exited: worker \(terminated by SIGKILL; not expected\)", log), log[-3000:]
        assert log.count("spawned: 'worker'") == 2
    finally:
        sup.stop(timeout=60)
    assert {u.pk for u in police} == set(Assignment.objects.values_list("unit_id", flat=True))


def _fresh_checkout(dest):
    """The repository's files as a clone would have them: no .run/, no .venv/, no staticfiles/."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:
        if not (ROOT / name).is_file():
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return dest


def test_procfile_processes_run_in_a_fresh_checkout_without_the_bootstrap(transactional_db, tmp_path):
    checkout = _fresh_checkout(tmp_path / "clone")
    assert not (checkout / ".run").exists()
    port = free_port()
    # What a hosting platform provides: the environment and the interpreter, nothing else.
    env = process_env(PORT=port, WEB_CONCURRENCY=1, CELERY_CONCURRENCY=1, DISPATCH_SWEEP_INTERVAL_S=1,
                      DEBUG="false", PATH=f"{VENV_BIN}:{os.environ['PATH']}")
    procs = {}
    try:
        for name in ("web", "worker", "beat"):
            line = next(x for x in (checkout / "Procfile").read_text().splitlines() if x.startswith(f"{name}:"))
            procs[name] = Proc(["bash", "-c", f"cd {checkout} && {line.split(':', 1)[1].strip()}"],
                               env, f"test-fresh-{name}.log")
        wait_for(lambda: "ready." in procs["worker"].output(), timeout=60, message="worker ready")
        wait_for(lambda: "Sending due task dispatch-sweep" in procs["beat"].output(), timeout=60,
                 message="beat sending the sweep:\n" + procs["beat"].output()[-2000:])
        response = wait_for(lambda: _try_get(port), timeout=60, message="web answering")
        assert response.status_code in (200, 503)
        assert set(response.json()) >= {"database", "redis", "broker", "worker", "beat"}
        for name, proc in procs.items():
            assert proc.popen.poll() is None, f"{name} died:\n{proc.output()[-3000:]}"
    finally:
        for proc in procs.values():
            proc.stop()
    assert not (checkout / ".run").exists()


def _try_get(port):
    try:
        return _healthz(port)
    except requests.RequestException:
        return None
