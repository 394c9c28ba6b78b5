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
DB_PASSWORD=${DB_PASSWORD:-dispatch}  # the local default: never in production (deploy/README.md)
DB_TEMPLATE=${DB_TEMPLATE:-dispatch_template}

# --- system packages -------------------------------------------------------------------------
missing=()
command -v psql >/dev/null 2>&1 || missing+=("postgresql-$PG_VERSION")
[ -f "/usr/share/postgresql/$PG_VERSION/extension/postgis.control" ] || missing+=("postgresql-$PG_VERSION-postgis-3")
# Road routing for dispatch by driving time (issue 16).
[ -f "/usr/share/postgresql/$PG_VERSION/extension/pgrouting.control" ] || missing+=("postgresql-$PG_VERSION-pgrouting")
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
# The application's role owns its database but is not a superuser (issue 14). CREATEDB is
# for the test run, which creates (and drops) its own database from the template below.
# The bootstrap owns this role's definition: an existing role with other rights (one made
# SUPERUSER by an earlier version of this script) is brought back to exactly these.
# psql variables (:"name", :'literal') quote the role and password; `-c` would not expand them.
role=$(psql_admin -v role="$DB_USER" <<'SQL'
SELECT concat_ws(' ', rolsuper, rolcreatedb, rolcanlogin, rolcreaterole) FROM pg_roles WHERE rolname = :'role';
SQL
)
if [ -z "$role" ]; then
  say "creating database role $DB_USER (LOGIN NOSUPERUSER CREATEDB)"
  psql_admin -v role="$DB_USER" -v password="$DB_PASSWORD" <<'SQL'
CREATE ROLE :"role" LOGIN NOSUPERUSER CREATEDB NOCREATEROLE PASSWORD :'password';
SQL
elif [ "$role" != "f t t f" ]; then
  say "setting database role $DB_USER to LOGIN NOSUPERUSER CREATEDB (it was not)"
  psql_admin -v role="$DB_USER" <<'SQL'
ALTER ROLE :"role" LOGIN NOSUPERUSER CREATEDB NOCREATEROLE;
SQL
fi

# Extensions are created by the admin: postgis is not a trusted extension, so the app role
# could not. The template holds them for every database the app role creates itself (the
# test database through DATABASE_TEST_TEMPLATE, bench databases through `createdb -T`);
# migrations' CreateExtension and GeoDjango's prepare_database then find them and do nothing.
# The comment records which extensions the template was made with: a change rebuilds it.
# It refuses connections, so nobody can hold it open while a test run clones it.
EXTENSIONS="postgis btree_gist pg_trgm unaccent pgrouting"
create_extensions_sql() {
  echo "SET client_min_messages = warning;"
  for ext in $EXTENSIONS; do echo "CREATE EXTENSION IF NOT EXISTS $ext;"; done
}
template_mark="dispatch template: $EXTENSIONS"
template=$(psql_admin -v name="$DB_TEMPLATE" <<'SQL'
SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :'name' AND datistemplate;
SQL
)
if [ "$template" != "$template_mark" ]; then
  say "creating template database $DB_TEMPLATE ($EXTENSIONS)"
  psql_admin -v name="$DB_TEMPLATE" <<'SQL'
SET client_min_messages = warning;
SELECT format('ALTER DATABASE %I WITH IS_TEMPLATE false', :'name') FROM pg_database WHERE datname = :'name' \gexec
DROP DATABASE IF EXISTS :"name";
CREATE DATABASE :"name";
SQL
  create_extensions_sql | psql_admin -d "$DB_TEMPLATE"
  psql_admin -v name="$DB_TEMPLATE" -v mark="$template_mark" <<'SQL'
COMMENT ON DATABASE :"name" IS :'mark';
ALTER DATABASE :"name" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false;
SQL
fi
if [ "$(psql_admin -v name="$DB_NAME" <<<"SELECT 1 FROM pg_database WHERE datname = :'name';")" != "1" ]; then
  say "creating database $DB_NAME"
  psql_admin -v name="$DB_NAME" -v role="$DB_USER" -v template="$DB_TEMPLATE" <<'SQL'
CREATE DATABASE :"name" OWNER :"role" TEMPLATE :"template";
SQL
fi
# A database made before the template (or by hand) gets them here; a no-op otherwise.
create_extensions_sql | psql_admin -d "$DB_NAME"

# --- Redis ----------------------------------------------------------------------------------------
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --maxmemory-policy noeviction --dir "$ROOT/.run" --logfile "$ROOT/.run/redis.log"
  for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.25; done
fi
# The broker must never evict a task (docs/traps.md); best effort on a shared Redis.
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
