"""No secrets or callers' data in the web process's request logs.

uvicorn logs every request line (`uvicorn.access`) and every websocket handshake
(`uvicorn.error`: `"WebSocket /ws/events/?token=…" [accepted]`) with its query string:
API tokens of websocket clients, phone numbers searched in `/calls/?q=`, coordinates
sent to `/geocode/reverse/`. This filter keeps the path and the parameter names and
replaces every value with `…`, so a log still says what was asked, never with what.
Bodies are never logged by these loggers. Installed on the web process's loggers by
config/asgi.py; docs/security notes what is logged where (README "Logs").
"""

import logging
from urllib.parse import parse_qsl

REDACTED = "…"
LOGGERS = ("uvicorn.access", "uvicorn.error", "gunicorn.access", "gunicorn.error", "django.request")


def scrub(value):
    """'/x/?token=abc&since=5' -> '/x/?token=…&since=…'; anything else unchanged."""
    if not isinstance(value, str) or "?" not in value:
        return value
    path, _, query = value.partition("?")
    names = [name for name, _ in parse_qsl(query, keep_blank_values=True)] or ["…"]
    return path + "?" + "&".join(f"{name}={REDACTED}" for name in names)


class DropQueryValues(logging.Filter):
    def filter(self, record):
        if isinstance(record.args, tuple):
            record.args = tuple(scrub(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: scrub(arg) for key, arg in record.args.items()}
        if isinstance(record.msg, str) and "?" in record.msg and not record.args:
            record.msg = " ".join(scrub(word) for word in record.msg.split(" "))
        return True


def install():
    scrubber = DropQueryValues()
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropQueryValues) for f in logger.filters):
            logger.addFilter(scrubber)
