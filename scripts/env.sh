# Defaults for running the project locally; every value can be overridden from outside.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$ROOT/.run"
[ -f "$ROOT/.run/secret_key" ] || (umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n' > "$ROOT/.run/secret_key")
export DATABASE_URL=${DATABASE_URL:-postgis://dispatch:dispatch@127.0.0.1:5432/dispatch}
# The test run creates its database from the bootstrap's template (PostGIS and the other
# extensions installed by the admin: the app role is not a superuser). Empty = Django's default.
export DATABASE_TEST_TEMPLATE=${DATABASE_TEST_TEMPLATE-dispatch_template}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export SECRET_KEY=${SECRET_KEY:-$(cat "$ROOT/.run/secret_key")}
export DEBUG=${DEBUG:-false}
export ALLOWED_HOSTS=${ALLOWED_HOSTS:-localhost,127.0.0.1}
export PATH="$ROOT/.venv/bin:$PATH"
