#!/usr/bin/env bash
# Bring up everything the project needs on this machine, idempotently and quickly:
# system packages (PostgreSQL + PostGIS, Redis, GDAL), running PostgreSQL and Redis,
# the database role and database, and the virtualenv. Sourced by `make run` / `make test`
# through scripts/env.sh; safe to run again (a second run only checks).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
mkdir -p .run
say() { echo "[bootstrap] $*"; }

PG_VERSION=${PG_VERSION:-15}
DB_NAME=${DB_NAME:-dispatch}
DB_USER=${DB_USER:-dispatch}
DB_PASSWORD=${DB_PASSWORD:-dispatch}

# --- system packages -------------------------------------------------------------------------
missing=()
command -v psql >/dev/null 2>&1 || missing+=("postgresql-$PG_VERSION")
[ -f "/usr/share/postgresql/$PG_VERSION/extension/postgis.control" ] || missing+=("postgresql-$PG_VERSION-postgis-3")
command -v redis-server >/dev/null 2>&1 || missing+=("redis-server")
command -v gdalinfo >/dev/null 2>&1 || missing+=("gdal-bin")
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=("python3-venv")
# The operator console's browser tests drive Debian's Chromium (no browser download is possible).
command -v chromium >/dev/null 2>&1 || missing+=("chromium")
# makemessages / compilemessages for locale/ (the compiled .mo files are committed).
command -v msgfmt >/dev/null 2>&1 || missing+=("gettext")
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Missing system packages: ${missing[*]}" >&2
    echo "Install them as root:  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# --- PostgreSQL --------------------------------------------------------------------------------
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if [ "$(id -u)" = 0 ]; then
    if ! pg_lsclusters -h 2>/dev/null | grep -q "^$PG_VERSION main"; then
      say "creating PostgreSQL cluster $PG_VERSION/main"
      pg_createcluster "$PG_VERSION" main >/dev/null
    fi
    say "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start
  else
    # Without root: a private cluster inside the project.
    PGBIN=/usr/lib/postgresql/$PG_VERSION/bin
    if [ ! -d .run/pgdata ]; then
      say "initialising a private PostgreSQL cluster in .run/pgdata"
      "$PGBIN/initdb" -D .run/pgdata -U postgres -A trust >/dev/null
    fi
    "$PGBIN/pg_ctl" -D .run/pgdata -l .run/postgres.log -o "-p 5432 -k $ROOT/.run -c listen_addresses=127.0.0.1" -w start >/dev/null
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
fi

psql_admin() {
  # The postgres superuser through the local socket (peer or trust), else over TCP.
  if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
    runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qtA "$@"
  else
    psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qtA "$@"
  fi
}
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname='$DB_USER'")" != "1" ]; then
  say "creating database role $DB_USER"
  # Superuser: the test run creates its own database with the PostGIS extension.
  psql_admin -c "CREATE ROLE $DB_USER LOGIN SUPERUSER PASSWORD '$DB_PASSWORD'"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='$DB_NAME'")" != "1" ]; then
  say "creating database $DB_NAME"
  psql_admin -c "CREATE DATABASE $DB_NAME OWNER $DB_USER"
fi

# --- Redis ----------------------------------------------------------------------------------------
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --maxmemory-policy noeviction --dir "$ROOT/.run" --logfile "$ROOT/.run/redis.log"
  for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.25; done
fi
# The broker must never evict a task (PITFALLS.md); best effort on a shared Redis.
redis-cli -h 127.0.0.1 config set maxmemory-policy noeviction >/dev/null 2>&1 || true

# --- virtualenv -------------------------------------------------------------------------------------
req_hash=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$req_hash" ]; then
  say "installing Python packages into .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/pip install -q -r requirements.txt
  echo "$req_hash" > .venv/.requirements.sha256
fi
say "PostgreSQL, Redis and .venv are ready"
