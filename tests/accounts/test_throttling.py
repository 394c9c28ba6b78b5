"""Sign-in limits (issue 14): axes lock-outs on the three sign-in endpoints, the per-address
rate of the token API (fails open without Redis), and supervisors lifting a lock-out."""

import logging
import secrets
import subprocess
import sys
import time

import pytest
import requests
from django.conf import settings
from django.test import Client, RequestFactory, override_settings
from rest_framework.test import APIClient

from accounts.throttling import client_ip
from tests.conftest import ROOT, client_for, free_port, process_env
from tests.factories import make_user

TOKEN = "/api/v1/auth/token/"
LOCKOUTS = "/api/v1/lockouts/"
PASSWORD = "pass-1234-word"  # tests.factories.make_user


def new_ip():
    """A fresh address per test: the rate counters live in Redis and outlast a test."""
    return "10." + ".".join(str(secrets.randbelow(254) + 1) for _ in range(3))


def api(ip):
    return APIClient(REMOTE_ADDR=ip)


def token_attempt(client, username, password=PASSWORD, **extra):
    return client.post(TOKEN, {"username": username, "password": password}, format="json", **extra)


def lock_via_api(client, username):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert token_attempt(client, username, "wrong").status_code == 400


def test_token_brute_force_is_locked_and_the_right_password_is_then_refused(operator):
    client = api(new_ip())
    lock_via_api(client, "op1")
    locked = token_attempt(client, "op1", "wrong-again")
    assert locked.status_code == 429
    assert set(locked.json()) == {"detail"} and locked.json()["detail"]
    assert 0 < int(locked["Retry-After"]) <= settings.AXES_COOLOFF_TIME.total_seconds()
    right = token_attempt(client, "op1")
    assert right.status_code == 429 and "token" not in right.json()


def test_the_same_username_from_another_address_is_not_locked(operator):
    lock_via_api(api(new_ip()), "op1")
    other = token_attempt(api(new_ip()), "op1")
    assert other.status_code == 200 and other.json()["token"]


def test_a_forged_x_forwarded_for_neither_escapes_nor_causes_a_lock_out(operator):
    ip = new_ip()
    client = api(ip)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert token_attempt(client, "op1", "wrong", HTTP_X_FORWARDED_FOR=new_ip()).status_code == 400
    assert token_attempt(client, "op1", HTTP_X_FORWARDED_FOR=new_ip()).status_code == 429
    # An attacker naming the operator's address in the header locks only their own.
    victim = new_ip()
    attacker = api(new_ip())
    for _ in range(settings.AXES_FAILURE_LIMIT):
        token_attempt(attacker, "op1", "wrong", HTTP_X_FORWARDED_FOR=victim)
    assert token_attempt(api(victim), "op1").status_code == 200


def test_client_address_comes_from_x_forwarded_for_only_with_trusted_proxies():
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.7")
    assert client_ip(request) == "10.0.0.1"
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}):
        assert client_ip(request) == "192.0.2.7"
        forged = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="not-an-address")
        assert client_ip(forged) == "10.0.0.1"


def browser(ip, language="en"):
    return Client(REMOTE_ADDR=ip, HTTP_ACCEPT_LANGUAGE=language)


def signed_in(client):
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_browser_sign_in_brute_force_shows_the_locked_page_and_refuses_the_right_password(db, url):
    user = make_user("op-browser", "operator")
    user.is_staff = True  # /admin/login/ accepts only staff
    user.save()
    client = browser(new_ip())
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(url, {"username": user.username, "password": "wrong"}).status_code == 200
    locked = client.post(url, {"username": user.username, "password": "wrong"})
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
    assert b"Sign-in is locked" in locked.content and b"supervisor" in locked.content
    right = client.post(url, {"username": user.username, "password": PASSWORD})
    assert right.status_code == 429 and not signed_in(client)
    as_json = client.post(url, {"username": user.username, "password": PASSWORD}, HTTP_ACCEPT="application/json")
    assert as_json.status_code == 429 and set(as_json.json()) == {"detail"}


def test_the_locked_page_speaks_the_users_language(db):
    make_user("op-kk", "operator")
    pages = {}
    for language in ("ru", "kk", "en"):
        client = browser(new_ip(), language)
        for _ in range(settings.AXES_FAILURE_LIMIT):
            response = client.post("/accounts/login/", {"username": "op-kk", "password": "wrong"})
        assert response.status_code == 429
        assert f'lang="{language}"'.encode() in response.content
        pages[language] = response.content.decode()
    assert "Sign-in is locked" in pages["en"]
    assert "Вход заблокирован" in pages["ru"]
    assert "Кіру бұғатталды" in pages["kk"]


def test_a_right_password_resets_the_failures_of_the_browser_sign_in(operator):
    client = browser(new_ip())
    for _ in range(2):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            assert client.post("/accounts/login/", {"username": "op1", "password": "wrong"}).status_code == 200
        assert client.post("/accounts/login/", {"username": "op1", "password": PASSWORD}).status_code == 302
        client.logout()


def test_a_right_password_resets_the_failures_of_the_token_api(operator):
    client = api(new_ip())
    for _ in range(2):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            assert token_attempt(client, "op1", "wrong").status_code == 400
        assert token_attempt(client, "op1").status_code == 200
    assert token_attempt(client, "op1", "wrong").status_code == 400  # not locked


def test_a_supervisor_lists_and_lifts_a_lock_out(operator, supervisor, caplog):
    ip = new_ip()
    lock_via_api(api(ip), "op1")
    boss = client_for(supervisor)
    listed = boss.get(LOCKOUTS)
    assert listed.status_code == 200
    body = listed.json()
    assert body["failure_limit"] == settings.AXES_FAILURE_LIMIT
    [lock] = [lock for lock in body["results"] if lock["username"] == "op1"]
    assert lock["ip"] == ip and lock["failures"] == settings.AXES_FAILURE_LIMIT
    assert set(lock) == {"username", "ip", "failures", "since", "until"} and lock["until"] > lock["since"]

    with caplog.at_level(logging.INFO, logger="accounts"):
        lifted = boss.delete(f"{LOCKOUTS}?username=op1")
    assert lifted.status_code == 200 and lifted.json() == {"username": "op1", "ip": None, "cleared": 1}
    [record] = [r for r in caplog.records if r.name == "accounts" and "unlocked" in r.getMessage()]
    assert "sup1" in record.getMessage() and "'op1'" in record.getMessage()
    assert [lock for lock in boss.get(LOCKOUTS).json()["results"] if lock["username"] == "op1"] == []
    assert token_attempt(api(ip), "op1").status_code == 200


def test_lifting_validates_its_input_and_says_when_there_is_nothing_to_lift(supervisor):
    boss = client_for(supervisor)
    missing = boss.delete(LOCKOUTS)
    assert missing.status_code == 400 and "username" in missing.json()
    bad_ip = boss.delete(f"{LOCKOUTS}?username=op1&ip=nowhere")
    assert bad_ip.status_code == 400 and "ip" in bad_ip.json()
    assert boss.delete(f"{LOCKOUTS}?username=nobody").status_code == 404


def test_lifting_one_address_leaves_the_others_locked(operator, supervisor):
    first, second = new_ip(), new_ip()
    lock_via_api(api(first), "op1")
    lock_via_api(api(second), "op1")
    lifted = client_for(supervisor).delete(f"{LOCKOUTS}?username=op1&ip={first}")
    assert lifted.status_code == 200 and lifted.json()["ip"] == first
    assert token_attempt(api(first), "op1").status_code == 200
    assert token_attempt(api(second), "op1").status_code == 429


def test_only_supervisors_see_or_lift_lock_outs(operator, anon_client):
    op = client_for(operator)
    assert op.get(LOCKOUTS).status_code == 403
    assert op.delete(f"{LOCKOUTS}?username=op1").status_code == 403
    assert anon_client.get(LOCKOUTS).status_code in (401, 403)
    assert anon_client.delete(f"{LOCKOUTS}?username=op1").status_code in (401, 403)


@override_settings(AUTH_TOKEN_RATE="3/min")
def test_the_token_api_answers_429_past_its_rate_per_address(operator):
    client = api(new_ip())
    for _ in range(3):
        assert token_attempt(client, "op1").status_code == 200
    throttled = token_attempt(client, "op1")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    assert set(throttled.json()) == {"detail"}
    assert token_attempt(api(new_ip()), "op1").status_code == 200


def test_the_rate_fails_open_when_redis_is_unreachable(operator):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    caches = {"default": {**settings.CACHES["default"], "LOCATION": closed}}
    client = api(new_ip())
    with override_settings(CACHES=caches, AUTH_TOKEN_RATE="1/min"):
        started = time.monotonic()
        for _ in range(3):
            assert token_attempt(client, "op1").status_code == 200
        assert token_attempt(client, "op1", "wrong").status_code == 400
        elapsed = time.monotonic() - started
    assert elapsed < 4


def test_the_rate_counts_in_redis_and_fails_open_when_it_dies(operator, private_redis):
    caches = {"default": {**settings.CACHES["default"], "LOCATION": private_redis.url}}
    client = api(new_ip())
    with override_settings(CACHES=caches, AUTH_TOKEN_RATE="2/min"):
        assert [token_attempt(client, "op1").status_code for _ in range(3)] == [200, 200, 429]
        private_redis.kill()
        assert token_attempt(client, "op1").status_code == 200


def test_bad_sign_in_settings_stop_start_up():
    code = "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup()"
    for name, value in [("AUTH_FAILURE_LIMIT", "0"), ("AUTH_LOCKOUT_MINUTES", "soon"),
                        ("AUTH_TOKEN_RATE", "30/fortnight"), ("TRUSTED_PROXY_COUNT", "-1")]:
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=process_env(**{name: value}),
                                capture_output=True, text=True, timeout=60)
        assert result.returncode != 0 and name in result.stderr, (name, result.stderr[-500:])


def test_lock_outs_hold_under_the_asgi_server(asgi_server):
    """Production serves Django over ASGI, where AxesMiddleware runs its async branch."""
    make_user("op-asgi", "operator")
    base = f"http://127.0.0.1:{asgi_server.port}"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        requests.post(base + TOKEN, json={"username": "op-asgi", "password": "wrong"}, timeout=10)
    token = requests.post(base + TOKEN, json={"username": "op-asgi", "password": PASSWORD}, timeout=10)
    assert token.status_code == 429 and "detail" in token.json()

    make_user("op-asgi-2", "operator")
    session = requests.Session()
    session.get(base + "/accounts/login/", timeout=10)
    form = {"csrfmiddlewaretoken": session.cookies["csrftoken"], "username": "op-asgi-2"}
    codes = [session.post(base + "/accounts/login/", data={**form, "password": "wrong"}, timeout=10,
                          allow_redirects=False).status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert codes == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    page = session.post(base + "/accounts/login/", data={**form, "password": PASSWORD}, timeout=10,
                        allow_redirects=False)
    assert page.status_code == 429 and "Вход заблокирован" in page.text and page.headers["Retry-After"]
