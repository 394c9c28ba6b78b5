"""Personas, factories and real processes (Celery worker, ASGI server) for the suite.

Everything runs against the real PostgreSQL + PostGIS and Redis that `make test` starts.
Tests that need a worker or a server use `transactional_db`: the other process must see
committed rows, which Django's TestCase transaction would hide.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import websockets
from django.conf import settings
from django.contrib.gis.geos import Point
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import UnitFactory, make_user, token_for

ROOT = Path(__file__).resolve().parent.parent
CENTRE = (51.1280, 71.4300)  # lat, lon: Astana, Esil district


def point(lat=CENTRE[0], lon=CENTRE[1]):
    return Point(lon, lat, srid=4326)


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    # PBKDF2 is slow on purpose; tests create many accounts.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _catalogue(request):
    """Transactional tests truncate every table, the migrated catalogue included: put it back."""
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    if transactional or {"transactional_db", "live_worker", "asgi_server"} & set(request.fixturenames):
        if not transactional:
            request.getfixturevalue("transactional_db")
        from calls.models import IncidentType

        if not IncidentType.objects.exists():
            install_catalogue()
    yield


def install_catalogue():
    from django.apps import apps as django_apps

    from calls.catalogue import install

    install(django_apps)


def client_for(user=None, token=None):
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    elif user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def operator(db):
    return make_user("op1", "operator")


@pytest.fixture
def supervisor(db):
    return make_user("sup1", "supervisor")


@pytest.fixture
def gateway(db):
    return make_user("gw1", "gateway")


@pytest.fixture
def operator_client(operator):
    return client_for(token=token_for(operator))


@pytest.fixture
def supervisor_client(supervisor):
    return client_for(token=token_for(supervisor))


@pytest.fixture
def gateway_client(gateway):
    return client_for(token=token_for(gateway))


@pytest.fixture
def anon_client():
    return APIClient()


def crew(unit):
    """A device client for a unit (issues the unit's token through the real service)."""
    from units.services import unit_issue_token

    return client_for(token=unit_issue_token(unit_id=unit.pk, actor=None))


@pytest.fixture
def unit_a(db):
    return UnitFactory(callsign="A-1", service="medical", capabilities=["als"])


@pytest.fixture
def unit_b(db):
    return UnitFactory(callsign="A-2", service="medical", capabilities=["bls"], location=point(51.14, 71.45))


@pytest.fixture
def crew_a(unit_a):
    return crew(unit_a)


@pytest.fixture
def crew_b(unit_b):
    return crew(unit_b)


# --- real processes -----------------------------------------------------------------------------


def _database_url():
    db = settings.DATABASES["default"]
    return f"postgis://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(**extra):
    env = dict(os.environ)
    env.update(
        DATABASE_URL=_database_url(),
        REDIS_URL=settings.REDIS_URL,
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        DEBUG="true",
        SECRET_KEY=settings.SECRET_KEY,
        PYTHONUNBUFFERED="1",
    )
    env.pop("DATABASE_TEST_NAME", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Proc:
    def __init__(self, args, env, log_name):
        self.log_path = ROOT / ".run" / log_name
        self.log_path.parent.mkdir(exist_ok=True)
        self.log = open(self.log_path, "w")
        self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def output(self):
        return self.log_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self.log.close()


def start_worker(name="worker", concurrency=2, queues=None, **env):
    """A Celery worker; `queues="journal"` makes it the Procfile's `readers` worker."""
    proc = Proc(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO", "--concurrency",
         str(concurrency), "--without-gossip", "--without-mingle", "-n", f"{name}@%h",
         *(["-Q", queues] if queues else [])],
        process_env(**env), f"test-{name}.log",
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if "ready." in proc.output():
            return proc
        if proc.popen.poll() is not None:
            break
        time.sleep(0.2)
    proc.stop()
    raise RuntimeError("celery worker did not start:\n" + proc.output()[-3000:])


def start_beat(name="beat", **env):
    """Celery beat as the Procfile runs it (in-memory schedule, PostgreSQL leader lock)."""
    return Proc([sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO", "--scheduler",
                 "ops.beat:LeaderScheduler"], process_env(**env), f"test-{name}.log")


def purge_broker():
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()


@pytest.fixture
def live_worker(transactional_db):
    purge_broker()
    proc = start_worker()
    yield proc
    proc.stop()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_asgi(port, log_level="warning", **env):
    proc = Proc([sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port",
                 str(port), "--log-level", log_level], process_env(**env), f"test-asgi-{port}.log")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.popen.poll() is not None:
                break
            time.sleep(0.2)
    proc.stop()
    raise RuntimeError("ASGI server did not start:\n" + proc.output()[-3000:])


@pytest.fixture
def asgi_server(transactional_db):
    port = free_port()
    proc = start_asgi(port)
    proc.port = port
    yield proc
    proc.stop()


class PrivateRedis:
    """A throw-away redis-server without persistence, for tests that kill Redis: a SIGKILL
    loses everything in it, as it would in production. The shared one is never touched."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.popen = None

    def start(self):
        """Start (or start again, on the same port)."""
        self.popen = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_for(lambda: self._ping(client), timeout=10, interval=0.05, message="private redis-server")
        return self

    @staticmethod
    def _ping(client):
        try:
            return client.ping()
        except redis.ConnectionError:
            return False

    def kill(self):
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)


@pytest.fixture
def private_redis():
    server = PrivateRedis().start()
    yield server
    if server.popen.poll() is None:
        server.kill()


def wait_for(predicate, timeout=15.0, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


def now():
    return timezone.now()


async def closed_within(ws, seconds):
    """The close code a websocket's server sent within the time (-1: closed without one),
    or None if the socket stayed open that long."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                await ws.recv()
    except websockets.exceptions.ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else -1
    except TimeoutError:
        return None
