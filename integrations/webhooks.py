"""Events out: each subscription is a journal reader `webhook:<id>` (core/readers.py family).

The reader runner gives a subscription the events after its cursor in journal order; this
module POSTs them one per request and reports how far it got. A 2xx moves the cursor past
the event; anything else (refused, timed out, 4xx/5xx, a redirect) stops the run there
with the error and the reader backs off (2, 4, 8 … s, at most JOURNAL_READER_BACKOFF_MAX_S)
and retries from that event. So a partner down for a day gets every event, in order, when
it is back, and a slow one holds up only its own reader: readers run as Celery tasks on
the `journal` queue, in a worker of their own (Procfile `readers`), never beside dispatch.

Each request: `Content-Type: application/json`, `X-Dispatch-Event` (the type),
`X-Dispatch-Delivery` (the journal id: the partner's de-duplication key, since delivery is
at least once) and `X-Dispatch-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.
"""

import hashlib
import hmac
import json
import time
from urllib.parse import urlsplit

import requests
from django.conf import settings

from core import readers
from core.journal import event_message
from dispatch.eido import call_eido

from .models import READER_PREFIX, Subscription, SubscriptionFormat

USER_AGENT = "112-dispatch-webhooks/1"
# One run of a subscription's reader stops starting new requests after this long; the next
# run (one beat interval later) goes on. Each request is bounded by the two timeouts.
RUN_BUDGET_S = 5.0
BATCH = 50


class DeliveryFailed(Exception):
    pass


def sign(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def host_allowed(url):
    """Is the URL's host (or host:port) in WEBHOOK_ALLOWED_HOSTS? Only http(s)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.lower()
    allowed = settings.WEBHOOK_ALLOWED_HOSTS
    return host in allowed or (port is not None and f"{host}:{port}" in allowed)


def body_for(subscription, event):
    """The bytes to POST for this event, or None when the subscription's format has nothing
    to say about it (EIDO: events that are not about a call)."""
    if subscription.format == SubscriptionFormat.EIDO:
        if event.call_id is None:
            return None
        payload = call_eido(call_id=event.call_id)
    else:
        payload = event_message(event)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class Deliverer:
    def __init__(self, subscription):
        self.subscription = subscription

    def __call__(self, events):
        deadline = time.monotonic() + RUN_BUDGET_S
        last = None
        with requests.Session() as session:
            for event in events:
                try:
                    self.deliver(session, event)
                except Exception as exc:
                    raise readers.Stopped(last, exc) from exc
                last = event.id
                if time.monotonic() >= deadline:
                    return last  # the rest in the next run
        return None

    def deliver(self, session, event):
        sub = self.subscription
        if not host_allowed(sub.url):  # the allow-list changed since it was registered
            raise DeliveryFailed(f"host of {sub.url} is not in WEBHOOK_ALLOWED_HOSTS")
        body = body_for(sub, event)
        if body is None:
            return
        response = session.post(
            sub.url, data=body, allow_redirects=False,
            timeout=(settings.WEBHOOK_CONNECT_TIMEOUT_S, settings.WEBHOOK_READ_TIMEOUT_S),
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-Dispatch-Event": event.type,
                "X-Dispatch-Delivery": str(event.id),
                "X-Dispatch-Signature": sign(sub.secret, body),
            },
        )
        response.close()
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"HTTP {response.status_code} for event {event.id}")


def _member_names():
    return [f"{READER_PREFIX}{pk}" for pk in Subscription.objects.values_list("pk", flat=True)]


def _reader_for(name):
    try:
        pk = int(name[len(READER_PREFIX):])
    except ValueError:
        return None
    sub = Subscription.objects.filter(pk=pk).first()
    if sub is None:
        return None
    types = None if "*" in sub.events else set(sub.events)
    return readers.make_reader(name, Deliverer(sub), types=types, batch=BATCH)


def install():
    """Called from IntegrationsConfig.ready."""
    readers.register_family(READER_PREFIX, names=_member_names, reader_for=_reader_for)
