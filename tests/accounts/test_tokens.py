"""API tokens: digests at rest, expiry for people, rotation, revocation that ends websockets."""

import asyncio
import importlib
import json
from datetime import timedelta

import psycopg
import pytest
import websockets
from django.contrib.auth import get_user_model
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

from accounts.tokens import issue_token
from config.db import libpq_params
from tests.conftest import client_for, closed_within, crew, start_asgi
from tests.factories import make_user, token_for

ME = "/api/v1/incident-types/"


def rows_holding(text):
    """Every (table, column) of the token table whose value contains the text."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT digest, token_key FROM knox_authtoken")
        return [value for row in cursor.fetchall() for value in row if text in value]


def test_tokens_are_stored_as_digests_and_shown_only_by_prefix(operator):
    text = token_for(operator)
    assert len(text) == 64
    held = rows_holding(text[:20])
    assert held == []  # neither the text nor more than its first 15 characters is stored
    token = AuthToken.objects.get(user=operator)
    assert text.startswith(token.token_key) and len(token.token_key) == 15
    assert token.digest != text and len(token.digest) == 128


def test_a_persons_token_expires_a_devices_and_a_gateways_do_not(settings, operator, gateway, unit_a):
    settings.API_TOKEN_TTL_HOURS = 12
    person = AuthToken.objects.get(user=operator)
    assert timedelta(hours=11.9) < person.expiry - timezone.now() <= timedelta(hours=12)
    assert AuthToken.objects.get(user=gateway).expiry is None
    crew(unit_a)
    unit_a.refresh_from_db()
    assert {t.expiry for t in AuthToken.objects.filter(user=unit_a.user)} == {None}

    text = token_for(operator)
    assert client_for(token=text).get(ME).status_code == 200
    AuthToken.objects.filter(user=operator).update(expiry=timezone.now() - timedelta(seconds=1))
    response = client_for(token=text).get(ME)
    assert response.status_code == 401 and response.json()["detail"]


def test_sign_in_issues_a_new_token_each_time_and_keeps_ten(anon_client, operator):
    issued = []
    for _ in range(12):
        response = anon_client.post("/api/v1/auth/token/", {"username": "op1", "password": "pass-1234-word"},
                                    format="json")
        assert response.status_code == 200
        issued.append(response.json()["token"])
    assert len(set(issued)) == 12
    assert AuthToken.objects.filter(user=operator).count() == 10
    assert client_for(token=issued[-1]).get(ME).status_code == 200
    assert client_for(token=issued[0]).get(ME).status_code == 401  # the oldest went first


def test_password_change_and_deactivation_revoke_every_token(operator, supervisor):
    first, second = token_for(operator), issue_token(operator)
    operator.set_password("another-pass-1234")
    operator.save()
    assert client_for(token=first).get(ME).status_code == 401
    assert client_for(token=second).get(ME).status_code == 401
    assert not AuthToken.objects.filter(user=operator).exists()

    text = token_for(supervisor)
    supervisor.last_login = timezone.now()
    supervisor.save(update_fields=["last_login"])  # an ordinary save revokes nothing
    assert client_for(token=text).get(ME).status_code == 200
    supervisor.is_active = False
    supervisor.save()
    assert client_for(token=text).get(ME).status_code == 401
    assert not AuthToken.objects.filter(user=supervisor).exists()


@pytest.mark.parametrize("garbage", ["", "x" * 129, "tökén", "abc def", "0" * 64])
def test_malformed_or_unknown_tokens_are_401(db, anon_client, garbage):
    anon_client.credentials(HTTP_AUTHORIZATION=f"Token {garbage}")
    assert anon_client.get(ME).status_code == 401


def test_tokens_issued_before_hashing_keep_working_after_the_migration(transactional_db, gateway):
    """The data migration: a DRF plaintext token (a paired phone's) hashes to its new digest."""
    migration = importlib.import_module("accounts.migrations.0001_tokens_by_digest")
    operator = make_user("op-old", "operator")
    AuthToken.objects.all().delete()
    old = {"op-old": "a" * 40, "gw1": "b" * 40}
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id int, created timestamptz)")
        for username, key in old.items():
            cursor.execute("INSERT INTO authtoken_token SELECT %s, id, now() FROM auth_user WHERE username = %s",
                           [key, username])
    from django.apps import apps

    with connection.schema_editor() as editor:
        migration.forwards(apps, editor)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('authtoken_token')")
        assert cursor.fetchone()[0] is None  # the plaintext is gone
    assert rows_holding("a" * 20) == []
    assert client_for(token=old["op-old"]).get(ME).status_code == 200
    assert client_for(token=old["gw1"]).get(ME).status_code in (200, 403)  # authenticated, maybe not allowed
    assert client_for(token=old["gw1"]).get(ME).status_code != 401
    assert AuthToken.objects.get(user=operator).expiry is not None
    assert AuthToken.objects.get(user=gateway).expiry is None


# --- websockets: a revoked credential ends the socket within seconds --------------------------------


def feed(server, **kwargs):
    return websockets.connect(f"ws://127.0.0.1:{server.port}/ws/events/", open_timeout=5, **kwargs)


@pytest.mark.realtime
def test_revoking_a_token_or_deactivating_the_account_closes_its_sockets(asgi_server, operator, supervisor):
    kept = issue_token(operator)
    revoked = token_for(operator)
    sup_token = token_for(supervisor)

    async def scenario():
        async with feed(asgi_server, additional_headers={"Authorization": f"Token {revoked}"}) as ws_revoked, \
                feed(asgi_server, additional_headers={"Authorization": f"Token {kept}"}) as ws_kept, \
                feed(asgi_server, additional_headers={"Authorization": f"Token {sup_token}"}) as ws_sup:
            await asyncio.sleep(0.3)
            digest = await asyncio.to_thread(lambda: AuthToken.objects.get(user=operator, token_key=revoked[:15]).digest)
            await asyncio.to_thread(lambda: AuthToken.objects.filter(digest=digest).delete())
            assert await closed_within(ws_revoked, 3) == 4401
            assert await closed_within(ws_kept, 0.5) is None  # the account's other token still holds

            def deactivate():
                supervisor.is_active = False
                supervisor.save()

            await asyncio.to_thread(deactivate)
            assert await closed_within(ws_sup, 3) == 4401
            assert await closed_within(ws_kept, 0.2) is None
        # and the revoked token cannot come back
        try:
            async with feed(asgi_server, additional_headers={"Authorization": f"Token {revoked}"}) as ws:
                code = await closed_within(ws, 3)
        except websockets.exceptions.InvalidStatus as exc:
            code = exc.response.status_code
        assert code in (403, 4403)

    asyncio.run(scenario())


@pytest.mark.realtime
def test_a_session_socket_closes_when_the_password_changes(asgi_server, operator):
    browser = Client()
    # django-axes checks every password sign-in against a request (its lock-outs are per address).
    assert browser.login(request=HttpRequest(), username="op1", password="pass-1234-word")
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    origin = f"http://127.0.0.1:{asgi_server.port}"

    async def scenario():
        async with feed(asgi_server, additional_headers={"Cookie": cookie, "Origin": origin}) as ws:
            assert await closed_within(ws, 0.5) is None  # signed in and open

            def change_password():
                user = get_user_model().objects.get(pk=operator.pk)
                user.set_password("a-new-pass-5678")
                user.save()

            await asyncio.to_thread(change_password)
            assert await closed_within(ws, 3) == 4401

    asyncio.run(scenario())


@pytest.mark.realtime
def test_without_the_doorbell_the_periodic_check_still_closes_the_socket(transactional_db, operator):
    """A revocation whose doorbell never rang (Redis down, a row deleted by hand) is caught
    by the socket's own re-check every WS_REAUTH_INTERVAL_S."""
    from tests.conftest import free_port

    port = free_port()
    server = start_asgi(port, WS_REAUTH_INTERVAL_S=1)
    server.port = port
    text = token_for(operator)
    params = libpq_params()

    def delete_behind_the_signals_back():
        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute("DELETE FROM knox_authtoken WHERE user_id = %s", [operator.pk])

    try:
        async def scenario():
            async with feed(server, additional_headers={"Authorization": f"Token {text}"}) as ws:
                await asyncio.sleep(0.3)
                await asyncio.to_thread(delete_behind_the_signals_back)
                assert await closed_within(ws, 4) == 4401

        asyncio.run(scenario())
    finally:
        server.stop()


@pytest.mark.realtime
def test_a_new_device_token_ends_the_old_one_on_the_fast_path(asgi_server, supervisor_client, unit_a):
    import urllib.error
    import urllib.request

    from units.services import unit_issue_token

    old = unit_issue_token(unit_id=unit_a.pk, actor=None)

    def post_fix(token):
        body = json.dumps({"lat": 51.13, "lon": 71.43, "accuracy_m": 8,
                           "recorded_at": timezone.now().isoformat()}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{asgi_server.port}/api/v1/me/location/", data=body,
                                         headers={"Authorization": f"Token {token}",
                                                  "Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert post_fix(old) in (200, 201, 202)
    new = supervisor_client.post(f"/api/v1/units/{unit_a.pk}/token/").json()["token"]
    assert post_fix(old) == 401
    assert post_fix(new) in (200, 201, 202)
    assert post_fix("a" * 64) == 401
    AuthToken.objects.filter(user__unit=unit_a).update(expiry=timezone.now() - timedelta(seconds=1))
    assert post_fix(new) == 401  # expired (a device token only expires if someone sets it)


def test_the_hourly_purge_drops_expired_tokens_and_sign_in_logs_past_the_retention(settings, operator):
    from axes.models import AccessLog

    from accounts.tasks import purge_expired_tokens

    settings.PERSONAL_DATA_RETENTION_DAYS = 30
    live = issue_token(operator)
    AuthToken.objects.exclude(token_key=live[:15]).update(expiry=timezone.now() - timedelta(minutes=1))
    old = AccessLog.objects.create(username="op1", ip_address="10.0.0.1", user_agent="x", http_accept="x",
                                   path_info="/accounts/login/")
    AccessLog.objects.filter(pk=old.pk).update(attempt_time=timezone.now() - timedelta(days=31))
    recent = AccessLog.objects.create(username="op1", ip_address="10.0.0.1", user_agent="x", http_accept="x",
                                      path_info="/accounts/login/")
    assert purge_expired_tokens.apply().get() == 1
    assert list(AuthToken.objects.filter(user=operator).values_list("token_key", flat=True)) == [live[:15]]
    assert list(AccessLog.objects.values_list("pk", flat=True)) == [recent.pk]
