"""Connections opened outside Django's ORM (beat's lock, the position fast path's pool)
use exactly Django's parameters: DATABASE_URL's libpq options (sslmode, certificates),
and the server-side limits set in settings."""

from django.db import connection

# What only Django's psycopg wrapper understands; everything else is a libpq keyword.
_DJANGO_ONLY = ("cursor_factory", "context", "prepare_threshold", "server_side_binding")


def libpq_params():
    """{libpq keyword: value} of the default database, for psycopg.connect or make_conninfo."""
    params = connection.get_connection_params()
    for key in _DJANGO_ONLY:
        params.pop(key, None)
    return {key: str(value) for key, value in params.items() if value is not None}
