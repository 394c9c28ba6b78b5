"""The web process's logs carry no tokens and no callers' data (issue 14 item)."""

import requests
import websockets.sync.client

from ops.logscrub import scrub
from tests.conftest import free_port, start_asgi, wait_for
from tests.factories import make_user, token_for


def test_scrub_keeps_paths_and_names_and_drops_values():
    assert scrub("/ws/events/?since=5&token=abc") == "/ws/events/?since=…&token=…"
    assert scrub("/api/v1/calls/") == "/api/v1/calls/"
    assert scrub(42) == 42


def test_a_websocket_token_and_a_phone_search_never_reach_the_log(transactional_db):
    user = make_user("op-logs", "operator")
    token = token_for(user)
    port = free_port()
    web = start_asgi(port, log_level="info")  # uvicorn's request lines, as in production
    try:
        with websockets.sync.client.connect(f"ws://127.0.0.1:{port}/ws/events/?token={token}") as ws:
            ws.send('{"type": "ping"}')
            assert "pong" in ws.recv(timeout=5)
        response = requests.get(f"http://127.0.0.1:{port}/api/v1/calls/", params={"q": "+77015550123"},
                                headers={"Authorization": f"Token {token}"}, timeout=10)
        assert response.status_code == 200
        requests.get(f"http://127.0.0.1:{port}/api/v1/geocode/reverse/", params={"lat": 51.1281, "lon": 71.4307},
                     headers={"Authorization": f"Token {token}"}, timeout=10)
        wait_for(lambda: "geocode/reverse" in web.output(), message="the request lines in the log")
    finally:
        web.stop()
    log = web.output()
    assert "/ws/events/?token=…" in log and "/api/v1/calls/?q=…" in log  # logged, without the values
    for secret in (token, "77015550123", "51.1281", "71.4307"):
        assert secret not in log
