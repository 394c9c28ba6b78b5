"""Open websockets of this web process, reported as `websockets` in its heartbeat row.

The feed consumer calls `opened` after it accepts a socket and `closed` when it goes; the
first socket starts the process's heartbeat thread (`web:<host>:<pid>`), and /metrics adds
up the fresh rows of every web process.
"""

import os
import socket
import threading
import weakref

from . import heartbeats

# Consumers, not a number: a consumer that disconnects twice, or never says so, still
# counts once and only while it exists.
_open = weakref.WeakSet()
_pulse = None
_lock = threading.Lock()


def opened(consumer):
    _open.add(consumer)
    if _pulse is None:
        _start()


def closed(consumer):
    _open.discard(consumer)


def count():
    return len(_open)


def _start():
    global _pulse
    with _lock:
        if _pulse is None:
            name = f"web:{socket.gethostname()}:{os.getpid()}"
            _pulse = heartbeats.Pulse(name, "web", lambda: {"websockets": count(), "pid": os.getpid()}).start()
