"""Open websockets of this web process, reported as `websockets` in its heartbeat row.

The consumers tell core.sockets when a socket opens and closes; the first socket starts
the process's heartbeat thread (`web:<host>:<pid>`), and /metrics adds up the fresh rows
of every web process. `install` (ops/apps.py) hooks this in.
"""

import os
import socket
import threading

from core import sockets as core_sockets

from . import heartbeats

_pulse = None
_lock = threading.Lock()


def install():
    core_sockets.on_open(_ensure_pulse)


def count():
    return core_sockets.count()


def _ensure_pulse():
    if _pulse is None:
        _start()


def _start():
    global _pulse
    with _lock:
        if _pulse is None:
            name = f"web:{socket.gethostname()}:{os.getpid()}"
            _pulse = heartbeats.Pulse(name, "web", lambda: {"websockets": count(), "pid": os.getpid()}).start()
