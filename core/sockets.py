"""Open websockets of this process: the consumers say when they open and close.

Consumers, not a number: a consumer that disconnects twice, or never says so, still
counts once and only while it exists. Monitoring (ops/sockets.py) listens for the first
open socket to start the process's heartbeat, and reads the count.
"""

import weakref

_open = weakref.WeakSet()
_on_open = []


def opened(consumer):
    _open.add(consumer)
    for listener in _on_open:
        listener()


def closed(consumer):
    _open.discard(consumer)


def count():
    return len(_open)


def on_open(listener):
    """Call listener() whenever a socket opens (cheap: it runs on the event loop)."""
    if listener not in _on_open:
        _on_open.append(listener)
