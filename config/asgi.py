"""ASGI entry point: HTTP goes to Django, websockets through authentication to the feed."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from dispatch.consumers import EventConsumer  # noqa: E402
from dispatch.unit_consumer import UnitFeedConsumer  # noqa: E402
from dispatch.ws_auth import TokenOrSessionAuthMiddleware  # noqa: E402
from ops import logscrub  # noqa: E402
from units.ingest import PositionIngest  # noqa: E402

# Everything imported so far lives as long as the process: move it out of the cyclic
# collector's sight, and collect the young generation less often, so collections stay
# short (bench/history.py measured 100+ ms pauses in the p99 of history pages otherwise).
# Request logs keep paths and parameter names, never values (tokens, phone numbers).
logscrub.install()

gc.freeze()
gc.set_threshold(20_000, 10, 10)

application = ProtocolTypeRouter(
    {
        # The position reports of every unit's phone skip Django (units/ingest.py).
        "http": PositionIngest(django_asgi_app),
        "websocket": TokenOrSessionAuthMiddleware(URLRouter([
            path("ws/events/", EventConsumer.as_asgi()),
            path("ws/unit/", UnitFeedConsumer.as_asgi()),  # a unit's device: its own events only
        ])),
    }
)
