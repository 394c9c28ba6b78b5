"""How fast the app's own street map pans (issue 21): GET /api/v1/basemap/{z}/{x}/{y}.json
over a real uvicorn (two workers, as the Procfile's web), per tile and per map view.

A view is what the console's map shows on a 1600x900 screen (768x860 px): the tiles that
cover it at zoom z, fetched over 6 connections at once as a browser does. Views are
random centres in the city (seed 112). Each zoom is measured three ways:

- cold: the tile cache (Redis) emptied before each view, so every tile is built by PostGIS;
- cached: the same views again, every tile from the cache;
- revalidated: again with If-None-Match, as a browser whose copy expired (304, no body).

A pan inside what the browser already holds costs no request at all (tiles are kept a
day under the data's version), so these are the costs of new ground.

Read-only on the database (it needs the road graph or the gazetteer loaded: `seed_demo`);
it adds one operator account `bench-basemap` and deletes the `basemap:` keys of its Redis db.

    DATABASE_URL=postgis://dispatch:dispatch@127.0.0.1:5432/dispatch_basemap REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/basemap_tiles.py --views 30 --zooms 12,14,16
"""

import argparse
import http.client
import math
import os
import random
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.tokens import issue_token  # noqa: E402
from dispatch import basemap  # noqa: E402
from tests.factories import make_user  # noqa: E402

CITY = (51.08, 51.20, 71.33, 71.55)  # lat min, lat max, lon min, lon max
VIEW_PX = (768, 860)
PARALLEL = 6


def percentile(values, p):
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def view_tiles(lat, lon, z):
    """The tiles covering a VIEW_PX view centred on (lat, lon) at zoom z."""
    scale = 256 * 2**z
    cx = (lon + 180) / 360 * scale
    cy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * scale
    x0, x1 = int((cx - VIEW_PX[0] / 2) // 256), int((cx + VIEW_PX[0] / 2) // 256)
    y0, y1 = int((cy - VIEW_PX[1] / 2) // 256), int((cy + VIEW_PX[1] / 2) // 256)
    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


class Client:
    """One keep-alive connection per thread."""

    def __init__(self, port, token):
        self.port, self.token, self.local = port, token, threading.local()

    def get(self, path, etag=None):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Token {self.token}", "Accept-Encoding": "gzip"}
        if etag:
            headers["If-None-Match"] = etag
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - start
        if response.status not in (200, 304):
            raise RuntimeError(f"{path}: HTTP {response.status} {body[:200]!r}")
        return elapsed, response.status, len(body), response.getheader("ETag")


def fetch_view(pool, client, tiles, version, etag=None):
    start = time.perf_counter()
    results = list(pool.map(lambda t: client.get(f"/api/v1/basemap/{t[0]}/{t[1]}/{t[2]}.json?v={version}", etag),
                            tiles))
    return time.perf_counter() - start, results


def start_server(port):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "2", "--log-level", "warning", "--no-access-log"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                time.sleep(2.0)  # both workers importing Django
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    sys.exit("uvicorn did not start")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--views", type=int, default=30)
    parser.add_argument("--zooms", default="12,14,16")
    parser.add_argument("--port", type=int, default=8301)
    parser.add_argument("--seed", type=int, default=112)
    args = parser.parse_args()

    state = basemap.source_state()
    if not state["source"]:
        sys.exit("no road graph and no gazetteer streets loaded: run `python manage.py seed_demo` first")
    user = make_user("bench-basemap", "operator") if not _exists("bench-basemap") else _user("bench-basemap")
    token = issue_token(user)
    cache = redis.Redis.from_url(settings.REDIS_URL)

    def empty_cache():
        for key in cache.scan_iter("*basemap:*"):
            cache.delete(key)

    # The server's own part of a cold tile, in this process: PostGIS building it (no HTTP, no cache).
    rng = random.Random(args.seed)
    build_rows = []
    for z in (int(v) for v in args.zooms.split(",")):
        tiles = {t for _ in range(args.views) for t in view_tiles(rng.uniform(*CITY[:2]), rng.uniform(*CITY[2:]), z)}
        times = []
        for t in sorted(tiles):
            start = time.perf_counter()
            basemap.build_tile(*t, state["source"])
            times.append((time.perf_counter() - start) * 1000)
        build_rows.append((z, len(times), percentile(times, 50), percentile(times, 99), max(times)))

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with connection.cursor() as cur:
        cur.execute("SELECT postgis_lib_version()")
        postgis = cur.fetchone()[0]
    print(f"== basemap tiles: source {state['source']} (version {state['version']}), db "
          f"{connection.settings_dict['NAME']}, PostGIS {postgis}, nproc {len(os.sched_getaffinity(0))}, "
          f"load average before {load}")
    connection.close()
    server = start_server(args.port)
    client = Client(args.port, token)
    rng = random.Random(args.seed)
    rows = []
    try:
        with ThreadPoolExecutor(PARALLEL) as pool:
            for z in (int(v) for v in args.zooms.split(",")):
                views = [view_tiles(rng.uniform(*CITY[:2]), rng.uniform(*CITY[2:]), z) for _ in range(args.views)]
                measured = {"cold": [], "cached": [], "revalidated": []}
                for tiles in views:
                    empty_cache()
                    measured["cold"].append(fetch_view(pool, client, tiles, state["version"]))
                for tiles in views:
                    measured["cached"].append(fetch_view(pool, client, tiles, state["version"]))
                etag = measured["cached"][0][1][0][3]
                for tiles in views:
                    measured["revalidated"].append(fetch_view(pool, client, tiles, state["version"], etag))
                for kind, runs in measured.items():
                    per_tile = [r[0] * 1000 for _, results in runs for r in results]
                    per_view = [t * 1000 for t, _ in runs]
                    tile_bytes = [r[2] for _, results in runs for r in results]
                    view_bytes = [sum(r[2] for r in results) for _, results in runs]
                    rows.append((z, kind, len(views[0]), len(per_tile), percentile(per_tile, 50), percentile(per_tile, 99),
                                 percentile(per_view, 50), percentile(per_view, 99),
                                 percentile(tile_bytes, 50) / 1024, max(tile_bytes) / 1024,
                                 percentile(view_bytes, 50) / 1024))
    finally:
        server.terminate()
        server.wait(10)
    print("| zoom | tiles built | build p50 ms | build p99 ms | build max ms |")
    print("|---|---|---|---|---|")
    for row in build_rows:
        print("| " + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in row) + " |")
    head = ("zoom", "pass", "tiles/view", "requests", "tile p50 ms", "tile p99 ms", "view p50 ms", "view p99 ms",
            "tile p50 KiB", "tile max KiB", "view p50 KiB")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for row in rows:
        print("| " + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in row) + " |")
    print(f"load average after {' '.join(f'{x:.2f}' for x in os.getloadavg())}; bytes are gzipped bodies")


def _exists(username):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(username=username).exists()


def _user(username):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username)


if __name__ == "__main__":
    main()
