"""One settings module, driven by the environment.

Every value that comes from the environment is parsed here, and a bad value stops the
process at start-up with a message that names the variable: a dispatch centre must not
run half-configured.
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()


def _setting(name, cast, default, check=None, hint=""):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = cast(raw)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not valid: {exc} {hint}".strip()) from None
    if check is not None and not check(value):
        raise ImproperlyConfigured(f"{name}={raw!r} is out of range. {hint}".strip())
    return value


def _bool(raw):
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true/false")


DEBUG = _setting("DEBUG", _bool, False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
# `make run` / `make test` generate a private key file; a bare `manage.py` in the same
# checkout reads it, so developers' commands work without exporting anything.
_key_file = Path(os.environ.get("SECRET_KEY_FILE", BASE_DIR / ".run" / "secret_key"))
if not SECRET_KEY and _key_file.is_file():
    SECRET_KEY = _key_file.read_text().strip()
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set in the environment (or DEBUG=true for development).")
    SECRET_KEY = "insecure-development-key-only-for-debug"

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "channels",
    "accounts",
    "calls",
    "units",
    "dispatch",
    "ops",
]

MIDDLEWARE = [
    # First, so that a database outage anywhere below answers 503 + Retry-After (ops/middleware.py).
    "ops.middleware.DatabaseOutageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# --- PostgreSQL + PostGIS -------------------------------------------------------------
try:
    _db = env.db_url("DATABASE_URL", default="postgis://dispatch:dispatch@127.0.0.1:5432/dispatch")
except Exception as exc:  # environ raises several types for a malformed URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _db.get("ENGINE") != "django.contrib.gis.db.backends.postgis":
    raise ImproperlyConfigured("DATABASE_URL must use the postgis:// scheme (PostgreSQL with PostGIS).")
# Persistent connections leak under ASGI (one per thread that ever served a request);
# Django's own psycopg pool with CONN_MAX_AGE=0 is the supported way (PITFALLS.md).
_db["CONN_MAX_AGE"] = 0
# After PostgreSQL restarts (or its backends are terminated) a pooled or kept connection is
# dead; checking on checkout costs one round trip and makes the next request succeed.
_db["CONN_HEALTH_CHECKS"] = True
_pool_size = _setting("DB_POOL_MAX_SIZE", int, 0, lambda v: v >= 0, "Use 0 to disable the pool.")
_db.setdefault("OPTIONS", {})
if _pool_size:
    # timeout: how long a request waits for a connection. Sync views share one thread per
    # process, so during an outage a short wait (then 503) keeps the process responsive.
    _db["OPTIONS"]["pool"] = {"min_size": 1, "max_size": _pool_size, "timeout": 2}
# Server-side limits (issue 13). A transaction left open (a stuck request, a crashed
# thread) holds its locks and the journal lock until this ends it; a runaway statement
# is cancelled. The statement limit is off by default so that `migrate` (backfills over a
# million calls take minutes) is never cut; the Procfile sets it for web and worker.
_idle_tx_s = _setting("DB_IDLE_IN_TRANSACTION_TIMEOUT_S", int, 60, lambda v: v >= 0, "0 disables it.")
_statement_s = _setting("DB_STATEMENT_TIMEOUT_S", int, 0, lambda v: v >= 0, "0 disables it.")
_db["OPTIONS"]["options"] = " ".join(filter(None, [
    _db["OPTIONS"].get("options", ""),
    f"-c idle_in_transaction_session_timeout={_idle_tx_s * 1000}",
    f"-c statement_timeout={_statement_s * 1000}" if _statement_s else "",
]))
_db["TEST"] = {"NAME": os.environ.get("DATABASE_TEST_NAME") or None}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache-free; the channel layer and the Celery broker --------------------------
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured("REDIS_URL must be a redis:// or rediss:// URL.")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py's default 5 s read timeout equals channels-redis' 5 s BZPOPMIN and
            # dropped idle sockets (channels_redis#422); the async pool's default of 100
            # connections ran out when 100 consoles disconnected at once.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 3,
                       "max_connections": 2000}],
            # The layer is a doorbell, not the record (PITFALLS.md); a bigger buffer only
            # makes the doorbell ring more reliably for a slow console.
            "capacity": 1000,
            "expiry": 30,
        },
    }
}

# --- Celery ----------------------------------------------------------------------------
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A request must never hang on a missing broker: bounded connect and publish timeouts.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 300,
    "socket_timeout": 2,
    "socket_connect_timeout": 2,
    "max_retries": 1,
    # kombu sleeps 2 s before that retry by default: with Redis refusing connections that
    # sleep was the whole cost of a request (measured 2.0 s; 0.01 s with 0). A hung Redis
    # is still bounded by the 2 s connection timeout above.
    "interval_start": 0,
}
CELERY_TASK_PUBLISH_RETRY = False
# No task may run unbounded: the longest by design is a waiting pass (20 s budget). A task
# past the soft limit raises inside itself (its transaction rolls back, the sweep redoes
# the work); past the hard limit its pool process is replaced.
CELERY_TASK_SOFT_TIME_LIMIT = 120
CELERY_TASK_TIME_LIMIT = 180
# A broker outage must never end the worker or beat: reconnect for as long as it takes
# (Celery's default gives up after 100 attempts, ~47 min, and the process exits). The
# crash on losing Redis with a task in flight is worked around in config/celery.py
# (celery/celery#10242 with kombu's Redis channel; tests/realtime/test_broker_outage.py).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# A dispatch in flight writes only PostgreSQL: let it finish when Redis goes away rather
# than cancel it (Celery 6 makes cancelling the default). Its lost ack is harmless.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
DISPATCH_SWEEP_INTERVAL_S = _setting("DISPATCH_SWEEP_INTERVAL_S", float, 3.0, lambda v: 0.5 <= v <= 300)
CELERY_BEAT_SCHEDULE = {
    "dispatch-sweep": {
        "task": "dispatch.tasks.sweep",
        "schedule": DISPATCH_SWEEP_INTERVAL_S,
        "options": {"expires": DISPATCH_SWEEP_INTERVAL_S * 2},
    },
    # Ended calls are measured in the transaction that ends them; this repairs calls ended
    # around that (a rolling deploy's old processes, imports). ~0.6 s at 1,000,000 calls.
    "measure-ended-calls": {
        "task": "dispatch.tasks.measure_ended_calls",
        "schedule": _setting("METRICS_REPAIR_INTERVAL_S", float, 3600.0, lambda v: 10 <= v <= 86400),
    },
}

# --- Auth and API -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "dispatch.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every view names its own permission; this default only catches a forgotten one.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "dispatch.errors.exception_handler",
    "DATETIME_FORMAT": "iso-8601",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "112 Dispatch API",
    "DESCRIPTION": "Unified 112 emergency dispatch: calls, units, assignments, live events.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}
# A 112 payload is small; anything bigger is abuse or a bug.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# --- Time and language -----------------------------------------------------------------
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Almaty")
try:
    import zoneinfo

    zoneinfo.ZoneInfo(TIME_ZONE)
except Exception:
    raise ImproperlyConfigured(f"TIME_ZONE={TIME_ZONE!r} is not a known time zone.") from None
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", "Русский"), ("kk", "Қазақша"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Dispatch knobs (SPEC) ---------------------------------------------------------------
DISPATCH_STALE_LOCATION_S = _setting("DISPATCH_STALE_LOCATION_S", int, 300, lambda v: v > 0)
DISPATCH_ACK_TIMEOUT_S = _setting("DISPATCH_ACK_TIMEOUT_S", int, 60, lambda v: v > 0)
DUPLICATE_RADIUS_M = _setting("DUPLICATE_RADIUS_M", float, 150.0, lambda v: v >= 0)
DUPLICATE_WINDOW_MIN = _setting("DUPLICATE_WINDOW_MIN", float, 20.0, lambda v: v >= 0)
# A location less certain than this is never compared (a cell fix, a street geocode), and
# radius + both uncertainties never exceeds the cap: "possible duplicate" kilometres apart
# held a cardiac arrest with an ambulance free (issue 13).
DUPLICATE_MAX_ACCURACY_M = _setting("DUPLICATE_MAX_ACCURACY_M", float, 250.0, lambda v: v >= 0)
DUPLICATE_MAX_RADIUS_M = _setting("DUPLICATE_MAX_RADIUS_M", float, 500.0, lambda v: v >= 0)
# A position that moved less than this, with no status change, is kept as history only:
# GPS writes to the indexed live column are never HOT updates (PITFALLS.md).
UNIT_POSITION_MIN_MOVE_M = _setting("UNIT_POSITION_MIN_MOVE_M", float, 5.0, lambda v: v >= 0)
AML_HMAC_KEY = os.environ.get("AML_HMAC_KEY", "")
# The console's map: tiles from this URL (empty = no tiles; the map still shows calls and units).
MAP_TILE_URL = os.environ.get("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
MAP_TILE_ATTRIBUTION = os.environ.get(
    "MAP_TILE_ATTRIBUTION", '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)
# Supervisors' statistics: the centre's processing target (NFPA 1225: 90 % within 60 s).
STATS_DISPATCH_TARGET_S = _setting("STATS_DISPATCH_TARGET_S", float, 60.0, lambda v: v > 0)
STATS_DISPATCH_TARGET_SHARE = _setting("STATS_DISPATCH_TARGET_SHARE", float, 0.9, lambda v: 0 < v <= 1)
# This centre's identifier inside NENA EIDO documents (supervisors' export).
EIDO_AGENCY_ID = os.environ.get("EIDO_AGENCY_ID", "112-dispatch.invalid")
# A websocket client further behind than this many events is told to refetch state.
FEED_MAX_REPLAY = _setting("FEED_MAX_REPLAY", int, 20_000, lambda v: v > 0)

# GDAL < 3.9 cannot sandbox file access of spatial-reference strings; we never take SRS from users.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
