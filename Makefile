# The two commands (README): `make run` brings the whole system up (supervised), `make test` runs the suite.
SHELL := /bin/bash
.PHONY: run test lint bootstrap

bootstrap:
	@bash scripts/bootstrap.sh

run: bootstrap
	@source scripts/env.sh && python manage.py migrate --noinput -v 0 \
	  && python manage.py collectstatic --noinput -v 0 \
	  && python manage.py seed_demo --if-empty \
	  && echo "112 Dispatch: http://127.0.0.1:$${PORT:-8000}/  (health: /healthz, API docs: /api/docs/)" \
	  && PORT=$${PORT:-8000} DISPATCH_RUN_DIR=$$PWD/.run exec supervisord -c deploy/supervisord.local.conf

test: bootstrap
	@source scripts/env.sh && REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15} python -m pytest $(PYTEST_ARGS)

lint: bootstrap
	@source scripts/env.sh && ruff check . && lint-imports --no-cache || (echo "lint found problems"; exit 1)
