# Defaults for running the project locally; every value can be overridden from outside.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$ROOT/.run"
[ -f "$ROOT/.run/secret_key" ] || (umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n' > "$ROOT/.run/secret_key")
export DATABASE_URL=${DATABASE_URL:-postgis://dispatch:dispatch@127.0.0.1:5432/dispatch}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export SECRET_KEY=${SECRET_KEY:-$(cat "$ROOT/.run/secret_key")}
export DEBUG=${DEBUG:-false}
export ALLOWED_HOSTS=${ALLOWED_HOSTS:-localhost,127.0.0.1}
export PATH="$ROOT/.venv/bin:$PATH"
