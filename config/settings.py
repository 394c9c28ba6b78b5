"""One settings module, driven by the environment.

Every value that comes from the environment is parsed here, and a bad value stops the
process at start-up with a message that names the variable: a dispatch centre must not
run half-configured.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
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
    "knox",
    "django_filters",
    "drf_spectacular",
    "channels",
    "axes",
    "core",
    "accounts",
    "calls",
    "units",
    "dispatch",
    "integrations",
    "ops",
    "sim",  # manage.py simulate: a client of the public API, imports no app (docs/simulation.md)
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
    # A signed-in user's saved language wins over the browser's (accounts/language.py).
    "accounts.language.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out browser sign-in into its 429 page.
    "axes.middleware.AxesMiddleware",
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
# Django's own psycopg pool with CONN_MAX_AGE=0 is the supported way (docs/traps.md).
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
# TEMPLATE: a database with the extensions already installed by an admin (scripts/bootstrap.sh
# makes `dispatch_template`), so a role that is not a superuser can create the test database.
_db["TEST"] = {"NAME": os.environ.get("DATABASE_TEST_NAME") or None,
               "TEMPLATE": os.environ.get("DATABASE_TEST_TEMPLATE") or None}
DATABASES = {"default": _db}
# A streaming replica for supervisors' history, exports and statistics (core/replica.py;
# docs/architecture.md "Read replica"). Empty: none, everything reads the primary.
_replica_url = os.environ.get("DATABASE_REPLICA_URL", "").strip()
if _replica_url:
    try:
        _replica = environ.Env.db_url_config(_replica_url)
    except Exception as exc:
        raise ImproperlyConfigured(f"DATABASE_REPLICA_URL is not a valid database URL: {exc}") from None
    if _replica.get("ENGINE") != "django.contrib.gis.db.backends.postgis":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must use the postgis:// scheme.")
    _replica.update(CONN_MAX_AGE=0, CONN_HEALTH_CHECKS=True,
                    # A replica that is down must cost a read a second, not a TCP timeout;
                    # tests run against the primary's test database (MIRROR), not a copy.
                    OPTIONS={**_replica.get("OPTIONS", {}), "connect_timeout": 1,
                             "options": _db["OPTIONS"]["options"]},
                    TEST={"MIRROR": "default"})
    DATABASES["replica"] = _replica
DATABASE_ROUTERS = ["core.replica.ReplicaRouter"]
# Reads go to the primary while the replica is further behind than this (core/replica.py).
DATABASE_REPLICA_MAX_LAG_S = _setting("DATABASE_REPLICA_MAX_LAG_S", float, 5.0, lambda v: v >= 0)
DATABASE_REPLICA_CHECK_S = _setting("DATABASE_REPLICA_CHECK_S", float, 1.0, lambda v: 0 <= v <= 60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: the cache (sign-in rates only), the channel layer and the Celery broker ------
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured("REDIS_URL must be a redis:// or rediss:// URL.")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
# Only counters that may be lost live here, and their users fail open (accounts/throttling):
# short timeouts, so that a Redis outage costs a sign-in half a second, not a hang.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cache",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py's default 5 s read timeout equals channels-redis' 5 s BZPOPMIN and
            # dropped idle sockets (channels_redis#422); the async pool's default of 100
            # connections ran out when 100 consoles disconnected at once.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 3,
                       "max_connections": 2000}],
            # The layer is a doorbell, not the record (docs/traps.md); a bigger buffer only
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
# Celery's Django fixup closes the database connection around every task unless this is
# set: each dispatch then paid a new PostgreSQL connection (~12 ms) and a cold catalogue
# cache in the new backend (~1-3 ms more per first query). A prefork child runs one task at
# a time on one thread, so it keeps its connection (the fixup still closes it every this
# many tasks), checked before each task by config/celery.py (a dead one is replaced).
CELERY_DB_REUSE_MAX = 500
DISPATCH_SWEEP_INTERVAL_S = _setting("DISPATCH_SWEEP_INTERVAL_S", float, 3.0, lambda v: 0.5 <= v <= 300)
JOURNAL_READERS_INTERVAL_S = _setting("JOURNAL_READERS_INTERVAL_S", float, 2.0, lambda v: 0.5 <= v <= 300)
# Modules imported at start-up that register journal readers (core/readers.py) beyond the
# apps' own: a centre's local integrations, without changing the apps.
JOURNAL_READER_MODULES = [m.strip() for m in os.environ.get("JOURNAL_READER_MODULES", "").split(",") if m.strip()]
JOURNAL_READER_BACKOFF_MAX_S = _setting("JOURNAL_READER_BACKOFF_MAX_S", float, 300.0, lambda v: 1 <= v <= 86400)
# Readers call partners over the network: their tasks go to a queue of their own, consumed
# by the Procfile's `readers` worker, so a slow partner never holds up a dispatch task.
CELERY_TASK_ROUTES = {
    "core.tasks.run_journal_readers": {"queue": "journal"},
    "core.tasks.run_journal_reader": {"queue": "journal"},
}
# Partner webhooks (integrations/, docs/integrations.md): only these hosts (`host` or
# `host:port`) may be registered, so the server cannot be turned against the internal network.
WEBHOOK_ALLOWED_HOSTS = [h.strip().lower() for h in os.environ.get("WEBHOOK_ALLOWED_HOSTS", "").split(",") if h.strip()]
WEBHOOK_CONNECT_TIMEOUT_S = _setting("WEBHOOK_CONNECT_TIMEOUT_S", float, 3.0, lambda v: 0.1 <= v <= 60)
WEBHOOK_READ_TIMEOUT_S = _setting("WEBHOOK_READ_TIMEOUT_S", float, 5.0, lambda v: 0.1 <= v <= 60)
CELERY_BEAT_SCHEDULE = {
    "dispatch-sweep": {
        "task": "dispatch.tasks.sweep",
        "schedule": DISPATCH_SWEEP_INTERVAL_S,
        "options": {"expires": DISPATCH_SWEEP_INTERVAL_S * 2},
    },
    # The retention (dispatch/retention.py), daily at a quiet hour. A time of day, not an
    # interval: this schedule lives in memory, and a daily interval restarts with each deploy.
    "erase-personal-data": {
        "task": "dispatch.tasks.erase_personal_data",
        "schedule": crontab(hour=3, minute=30),
        "options": {"expires": 6 * 3600},
    },
    # Ended calls are measured in the transaction that ends them; this repairs calls ended
    # around that (a rolling deploy's old processes, imports). ~0.6 s at 1,000,000 calls.
    "measure-ended-calls": {
        "task": "dispatch.tasks.measure_ended_calls",
        "schedule": _setting("METRICS_REPAIR_INTERVAL_S", float, 3600.0, lambda v: 10 <= v <= 86400),
    },
    # Statistics rollups (dispatch/rollups.py): stale days again, missing days a few at a
    # time. Until a day is rolled up it is computed live, so this only decides speed.
    "roll-up-stats": {
        "task": "dispatch.tasks.roll_up_stats",
        "schedule": _setting("STATS_ROLLUP_INTERVAL_S", float, 60.0, lambda v: 5 <= v <= 86400),
        "options": {"expires": 60},
    },
    # Side effects that follow the journal (core/readers.py): one start per due reader.
    "journal-readers": {
        "task": "core.tasks.run_journal_readers",
        "schedule": JOURNAL_READERS_INTERVAL_S,
        "options": {"expires": JOURNAL_READERS_INTERVAL_S * 2},
    },
    "purge-expired-tokens": {"task": "accounts.tasks.purge_expired_tokens", "schedule": 3600.0},
}

# --- Auth and API -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# A person's API token (operators, supervisors) expires after this many hours (0 = never);
# a unit's device token and a gateway's token live until replaced (accounts/tokens.py).
API_TOKEN_TTL_HOURS = _setting("API_TOKEN_TTL_HOURS", float, 12.0, lambda v: v >= 0)
# An open websocket re-checks its account and token this often, besides the doorbell that
# a revocation rings (accounts/signals.py).
WS_REAUTH_INTERVAL_S = _setting("WS_REAUTH_INTERVAL_S", float, 30.0, lambda v: 1 <= v <= 3600)
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"


def _rate(raw):
    count, _, period = raw.strip().partition("/")
    if int(count) <= 0 or not period or period[0] not in "smhd":
        raise ValueError("expected N/s, N/min, N/hour or N/day")
    return raw.strip()


# --- Sign-in limits (issue 14; docs/api.md "Sign-in limits") ------------------------------
# django-axes counts failed passwords of the token API, /accounts/login/ and /admin/login/
# in PostgreSQL (no cache: a lock-out holds across processes and Redis outages). The key is
# username + client address: an attacker elsewhere locks only their own address out of an
# operator's account, never the operator's workstation.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = _setting("AUTH_FAILURE_LIMIT", int, 5, lambda v: 1 <= v <= 100)
AXES_COOLOFF_TIME = timedelta(minutes=_setting("AUTH_LOCKOUT_MINUTES", int, 15, lambda v: 1 <= v <= 1440))
# A refused attempt during a lock-out does not extend it, so "until" is true when shown.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.lockouts.lockout_response"
AXES_CLIENT_IP_CALLABLE = "accounts.throttling.client_ip"
# Who the client is: REMOTE_ADDR. gunicorn/uvicorn already set it from X-Forwarded-For
# when the proxy's address is in FORWARDED_ALLOW_IPS (default: this machine). With
# TRUSTED_PROXY_COUNT = N > 0 Django takes the address N hops from the right of
# X-Forwarded-For instead; at 0 Django never reads the header (the client's to forge) itself.
TRUSTED_PROXY_COUNT = _setting("TRUSTED_PROXY_COUNT", int, 0, lambda v: 0 <= v <= 10)
# Per client address on POST /api/v1/auth/token/, counted in the Redis cache.
AUTH_TOKEN_RATE = _setting("AUTH_TOKEN_RATE", _rate, "30/min", hint="Example: 30/min.")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every view names its own permission; this default only catches a forgotten one.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",  # DRF's, refusing NUL and lone surrogates (400 naming the field)
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DATETIME_FORMAT": "iso-8601",
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
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
# Number formats for the languages Django has none for (config/formats/kk: the decimal comma).
FORMAT_MODULE_PATH = ["config.formats"]

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
# Dispatch by road (issue 16): the K nearest by air are costed over the road graph in one
# routing query within a time budget; past it (or off the graph) the engine ranks by air.
DISPATCH_ROUTE_CANDIDATES = _setting("DISPATCH_ROUTE_CANDIDATES", int, 10, lambda v: 1 <= v <= 100)
DISPATCH_ROUTE_BUDGET_MS = _setting("DISPATCH_ROUTE_BUDGET_MS", int, 150, lambda v: 1 <= v <= 10_000)
ROUTE_SNAP_MAX_M = _setting("ROUTE_SNAP_MAX_M", float, 300.0, lambda v: 0 < v <= 5000)
ROUTE_OFFROAD_SPEED_KMH = _setting("ROUTE_OFFROAD_SPEED_KMH", float, 10.0, lambda v: 1 <= v <= 100)
DUPLICATE_RADIUS_M = _setting("DUPLICATE_RADIUS_M", float, 150.0, lambda v: v >= 0)
DUPLICATE_WINDOW_MIN = _setting("DUPLICATE_WINDOW_MIN", float, 20.0, lambda v: v >= 0)
# A location less certain than this is never compared (a cell fix, a street geocode), and
# radius + both uncertainties never exceeds the cap: "possible duplicate" kilometres apart
# held a cardiac arrest with an ambulance free (issue 13).
DUPLICATE_MAX_ACCURACY_M = _setting("DUPLICATE_MAX_ACCURACY_M", float, 250.0, lambda v: v >= 0)
DUPLICATE_MAX_RADIUS_M = _setting("DUPLICATE_MAX_RADIUS_M", float, 500.0, lambda v: v >= 0)
# A position that moved less than this, with no status change, is kept as history only:
# GPS writes to the indexed live column are never HOT updates (docs/traps.md).
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
# Callers' personal data is erased this many days after their call ended; 0 keeps it
# forever. The centre sets the period with its lawyer (docs/privacy.md).
PERSONAL_DATA_RETENTION_DAYS = _setting("PERSONAL_DATA_RETENTION_DAYS", int, 365, lambda v: 0 <= v <= 36500,
                                        "Days after a call ended; 0 keeps personal data forever.")

# GDAL < 3.9 cannot sandbox file access of spatial-reference strings; we never take SRS from users.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
