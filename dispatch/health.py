"""GET /healthz: can this process reach PostgreSQL, Redis and the broker right now?"""

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

TIMEOUT_S = 1.5


def _database():
    with connection.cursor() as cur:
        cur.execute("SELECT 1")


def _redis(url):
    client = redis.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
    try:
        client.ping()
    finally:
        client.close()


def _broker():
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=TIMEOUT_S)


@require_GET
def healthz(request):
    checks = {
        "database": _database,
        "redis": lambda: _redis(settings.REDIS_URL),
        "broker": _broker,
    }
    report, down = {}, []
    for name, check in checks.items():
        try:
            check()
            report[name] = "ok"
        except Exception as exc:  # any failure means "down", with the reason shown
            report[name] = f"down: {type(exc).__name__}: {exc}"[:200]
            down.append(name)
    body = {"status": "ok" if not down else "down", "down": down, "checks": report}
    return JsonResponse(body, status=503 if down else 200)
