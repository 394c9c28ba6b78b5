"""Graceful restarts: SIGTERM to a web process closes its websockets with 1012 (service
restart, which the console answers by reconnecting at once); SIGTERM to a worker lets its
running task finish."""

import signal
import time

import pytest
import websockets.sync.client

from dispatch.models import Assignment
from tests.conftest import free_port, point, purge_broker, start_asgi, start_worker
from tests.factories import UnitFactory, make_user, token_for
from tests.realtime.test_faults import fire_call_blocked_in_its_second_slot

pytestmark = [pytest.mark.worker, pytest.mark.realtime]


def test_sigterm_to_a_web_process_closes_websockets_with_service_restart(transactional_db):
    token = token_for(make_user("op-term", "operator"))
    port = free_port()
    web = start_asgi(port)
    try:
        with websockets.sync.client.connect(f"ws://127.0.0.1:{port}/ws/events/?token={token}") as ws:
            ws.send('{"type": "ping"}')
            assert "pong" in ws.recv(timeout=5)
            web.popen.send_signal(signal.SIGTERM)
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        web.popen.wait(15)
    finally:
        web.stop()


def test_sigterm_to_a_worker_lets_its_running_dispatch_finish(transactional_db, operator_client):
    fire = [UnitFactory(service="fire", location=point(51.128 + i * 0.002, 71.43)) for i in range(2)]
    UnitFactory(service="medical")
    UnitFactory(service="police")
    purge_broker()
    worker = start_worker("terminated")
    call, locker = fire_call_blocked_in_its_second_slot(operator_client, fire)
    try:
        worker.popen.send_signal(signal.SIGTERM)  # warm shutdown while the task is mid-way
        time.sleep(1)
        assert worker.popen.poll() is None  # still finishing its task
        locker.rollback()
        worker.popen.wait(30)
    finally:
        locker.close()
        worker.stop()
    # The task ran to its end: every line of the plan is filled, each by a different unit.
    units = list(Assignment.objects.filter(call_id=call["id"]).values_list("unit_id", flat=True))
    assert len(units) == len(set(units)) == 4
    assert "Warm shutdown" in worker.output()
