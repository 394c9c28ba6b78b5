"""A partner's webhook endpoint for tests: a real HTTP server on a thread.

`mode` decides the answer: "ok" (200), "fail" (500), "hold" (wait until `release` is set,
then 200). `stop()` closes the socket, so the port refuses connections, and `start()`
opens it again on the same port."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.conftest import free_port


class Receiver:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.mode = "ok"
        self.release = threading.Event()
        self.got = []  # (headers dict, raw body) of every request, answered or not
        self.lock = threading.Lock()
        self.server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                if receiver.mode == "hold":
                    receiver.release.wait(30)
                code = 500 if receiver.mode == "fail" else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def deliveries(self):
        """Journal ids received, first time each, in arrival order."""
        seen, out = set(), []
        with self.lock:
            for headers, _ in self.got:
                delivery = int(headers["x-dispatch-delivery"])
                if delivery not in seen:
                    seen.add(delivery)
                    out.append(delivery)
        return out

    def bodies(self):
        with self.lock:
            return [json.loads(body) for _, body in self.got]
