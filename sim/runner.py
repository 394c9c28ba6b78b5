"""The simulation itself: operators who log calls, crews who play their units' phones, and
one operator's websocket that is later compared with the journal. asyncio, httpx and
websockets: hundreds of crews in one process, each an HTTP client like the crew app."""

import asyncio
import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
import websockets

from .model import CLASS_SPEED_KMH, STRAIGHT_DETOUR, Profile, air_m

log = logging.getLogger("sim")

ACTIVE = ("assigned", "acknowledged", "on_scene")
CALL_ENDED = ("closed", "cancelled", "merged")
FIX_EVERY_S = 5.0  # simulated seconds between two fixes of a moving unit (the crew app's rate)
MIN_FLUSH_S = 5.0  # real seconds between two uploads of one unit: the crew app sends every 5 s
IDLE_FIX_S = 60.0  # real seconds between keep-alive fixes of a standing unit
DECLINE_SHARE = 0.03  # crews that decline an assignment (vehicle fault, already busy ...)
P1_DRIVE_FACTOR = 0.85  # lights and siren: P1/P2 drives beat the router's normal ETA


def iso(wall):
    return datetime.fromtimestamp(wall, UTC).isoformat()


class Clock:
    """Simulated seconds since the start run `speed` times faster than the wall clock."""

    def __init__(self, speed):
        self.speed = speed
        self.mono0 = time.monotonic()
        self.wall0 = time.time()

    def sim(self):
        return (time.monotonic() - self.mono0) * self.speed

    def wall(self, sim_s):
        return self.wall0 + sim_s / self.speed

    async def sleep(self, sim_s):
        await asyncio.sleep(max(0.0, sim_s) / self.speed)

    async def until(self, sim_s):
        await asyncio.sleep(max(0.0, (sim_s - self.sim()) / self.speed))


class Api:
    """The public REST API with one token; retries what a phone or a console would retry
    (a 503 while the database restarts, a dropped connection) for idempotent requests."""

    def __init__(self, http, token):
        self.http = http
        self.headers = {"Authorization": f"Token {token}"}

    async def request(self, method, path, *, json_body=None, params=None, retry=True, ok=(200, 201)):
        for attempt in range(6):
            try:
                r = await self.http.request(method, path, json=json_body, params=params, headers=self.headers)
            except httpx.HTTPError as exc:
                if not retry or attempt == 5:
                    raise
                log.debug("%s %s: %s", method, path, exc)
            else:
                if r.status_code in ok or r.status_code not in (502, 503, 504) or not retry:
                    return r
            await asyncio.sleep(min(5.0, 0.2 * 2 ** attempt))
        return r

    async def get(self, path, **params):
        # No params at all for a `next` link: httpx would replace the link's own query (its
        # page or cursor) with an empty one.
        return await self.request("GET", path, params=params or None)

    async def post(self, path, body=None, **kw):
        return await self.request("POST", path, json_body=body if body is not None else {}, **kw)


def ws_url(base_url, path, token, since):
    scheme = "wss" if base_url.startswith("https") else "ws"
    host = base_url.split("://", 1)[1].rstrip("/")
    return f"{scheme}://{host}{path}?{urlencode({'token': token, 'since': since})}"


@dataclass
class Path:
    coords: list  # [(lat, lon), ...]
    start_s: float
    duration_s: float
    cumulative: list = field(default_factory=list)

    def __post_init__(self):
        total = 0.0
        self.cumulative = [0.0]
        for a, b in zip(self.coords, self.coords[1:], strict=False):
            total += air_m(a, b)
            self.cumulative.append(total)

    def at(self, sim_s):
        """(lat, lon, heading, speed_mps) at a simulated time, at constant speed."""
        total = self.cumulative[-1]
        if total <= 0 or self.duration_s <= 0:
            return (*self.coords[-1], 0.0, 0.0)
        f = min(1.0, max(0.0, (sim_s - self.start_s) / self.duration_s))
        d = f * total
        i = max(0, min(len(self.coords) - 2, _bisect(self.cumulative, d) - 1))
        a, b = self.coords[i], self.coords[i + 1]
        seg = self.cumulative[i + 1] - self.cumulative[i]
        g = (d - self.cumulative[i]) / seg if seg > 0 else 0.0
        heading = (math.degrees(math.atan2((b[1] - a[1]) * math.cos(math.radians(a[0])), b[0] - a[0])) + 360) % 360
        return (a[0] + (b[0] - a[0]) * g, a[1] + (b[1] - a[1]) * g, round(heading), round(total / self.duration_s, 1))


def _bisect(values, x):
    lo, hi = 0, len(values)
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


class Stats:
    """What the run saw, for the report (times are wall-clock epochs)."""

    def __init__(self):
        self.calls = {}  # call id -> {"seq", "type", "posted_at", "answered_at"}
        self.calls_sent = 0
        self.calls_refused = []  # (status, body)
        self.ws_events = {}  # id -> type (the operator's socket)
        self.ws_event_at = {}  # call id -> first assignment.created seen on the operator socket (wall)
        self.alerted = set()  # calls that raised no_unit_available
        self.held = set()  # calls held as possible duplicates
        self.transported = set()  # assignment ids that ended transporting
        self.declined = 0
        self.feed_lag_ms = []
        self.feed_drops = 0  # unit and operator sockets that dropped and were resumed
        self.errors = []
        self.queue_samples = []  # (sim_s, waiting calls, busy units by service)
        self.closed_by_sim_at_end = 0
        self.interrupted = False


class Crew:
    """One unit's phone: its unit feed, position uploads, and the crew's answers."""

    def __init__(self, sim, plan, unit_id, token):
        self.sim = sim
        self.plan = plan
        self.unit_id = unit_id
        self.api = Api(sim.http, token)
        self.token = token
        self.rng = random.Random(f"{sim.seed}:{plan.callsign}")
        self.pos = plan.station
        self.path = None
        self.pending_fixes = []
        self.last_fix_sim = 0.0
        self.last_upload_wall = 0.0
        self.job = None
        self.assignment_id = None
        self.seen = set()
        self.last_id = sim.start_event_id
        self.busy_since = None

    @property
    def busy(self):
        """From the assignment until back in service (a transport and hand-over included)."""
        return self.assignment_id is not None or self.busy_since is not None

    # --- positions ---------------------------------------------------------------------------

    def fix(self, sim_s):
        if self.path is not None:
            lat, lon, heading, speed = self.path.at(sim_s)
        else:
            (lat, lon), heading, speed = self.pos, None, 0.0
        body = {"lat": round(lat, 6), "lon": round(lon, 6), "accuracy_m": 8, "speed_mps": speed,
                "recorded_at": iso(self.sim.clock.wall(sim_s))}
        if heading is not None:
            body["heading"] = heading
        return body

    async def upload(self, fixes):
        if not fixes:
            return
        self.last_upload_wall = time.monotonic()
        r = await self.api.post("/api/v1/me/location/", fixes[-1000:])
        if r.status_code != 200:
            self.sim.error(f"{self.plan.callsign} location {r.status_code} {r.text[:200]}")

    async def reporter(self):
        """Fixes every FIX_EVERY_S simulated seconds while moving, uploaded as a batch every
        5 real seconds as the crew app does (so at --speed 24 the live position is up to two
        simulated minutes old; the track is complete); a keep-alive fix a minute standing."""
        flush = max(MIN_FLUSH_S, FIX_EVERY_S / self.sim.clock.speed)
        while True:
            await asyncio.sleep(flush)
            now = self.sim.clock.sim()
            if self.path is not None:
                fixes = []
                t = max(self.last_fix_sim + FIX_EVERY_S, self.path.start_s)
                while t <= now and len(fixes) < 1000:
                    fixes.append(self.fix(t))
                    t += FIX_EVERY_S
                if fixes:
                    self.last_fix_sim = t - FIX_EVERY_S
                    await self.upload(fixes)
            elif time.monotonic() - self.last_upload_wall > IDLE_FIX_S:
                self.last_fix_sim = now
                await self.upload([self.fix(now)])

    async def move_to(self, dest, urgent=False):
        """Drive to dest along the road route (GET /route/), else straight at the class speed."""
        r = await self.sim.operator_api.get(
            "/api/v1/route/", **{"from": f"{self.pos[0]:.6f},{self.pos[1]:.6f}", "to": f"{dest[0]:.6f},{dest[1]:.6f}"})
        if r.status_code == 200 and r.json().get("basis") == "road" and r.json().get("geometry"):
            route = r.json()
            coords = [(lat, lon) for lon, lat in route["geometry"]["coordinates"]]
            duration = float(route["duration_s"])
            self.sim.road_routes += 1
        else:
            coords = [self.pos, dest]
            duration = air_m(self.pos, dest) * STRAIGHT_DETOUR / (CLASS_SPEED_KMH[self.plan.service] / 3.6)
            self.sim.straight_routes += 1
        if urgent:
            duration *= P1_DRIVE_FACTOR
        duration *= self.rng.uniform(0.9, 1.15)
        start = self.sim.clock.sim()
        self.path = Path(coords, start, duration)
        try:
            await self.sim.clock.until(start + duration)
        except asyncio.CancelledError:
            lat, lon, _, _ = self.path.at(self.sim.clock.sim())
            self.pos, self.path = (lat, lon), None
            raise
        self.pos, self.path = dest, None
        self.last_fix_sim = self.sim.clock.sim()
        await self.upload([self.fix(self.last_fix_sim)])

    # --- work --------------------------------------------------------------------------------

    async def start(self):
        await self.upload([self.fix(self.sim.clock.sim())])
        for _ in range(3):  # work left over by an interrupted earlier run: finish it first
            me = await self.api.get("/api/v1/me/")
            left = me.json().get("assignment") if me.status_code == 200 else None
            if not left:
                break
            verb, body = {"assigned": ("decline", {"reason": "simulation restarted"}),
                          "acknowledged": ("arrive", {}), "on_scene": ("clear", {"transporting": False})}[left["status"]]
            await self.api.post(f"/api/v1/assignments/{left['id']}/{verb}/", body)
        r = await self.api.post("/api/v1/me/status/", {"status": "available"})
        # 409: freed by the loop above, the unit was sent again at once; the feed brings it.
        if r.status_code not in (200, 409):
            raise RuntimeError(f"{self.plan.callsign}: cannot go available: {r.status_code} {r.text[:200]}")

    async def feed(self):
        """The unit feed (/ws/unit/), resumed from the last id after any drop."""
        while True:
            try:
                url = ws_url(self.sim.base_url, "/ws/unit/", self.token, self.last_id)
                async with websockets.connect(url, open_timeout=20, max_queue=None) as ws:
                    async for raw in ws:
                        msg = json.loads(raw)
                        if msg.get("id") is not None:
                            self.last_id = max(self.last_id, msg["id"])
                        self.on_message(msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a drop, a restart (1012), a 503: resume from last_id
                self.sim.stats.feed_drops += 1
                log.warning("%s unit feed: %r", self.plan.callsign, exc)
                await asyncio.sleep(1.0)

    def on_message(self, msg):
        data = msg.get("data") or {}
        if msg.get("type") not in ("assignment.created", "assignment.updated"):
            return
        if (data.get("unit") or {}).get("id") != self.unit_id:
            return
        if data["status"] == "assigned" and data["id"] not in self.seen:
            self.seen.add(data["id"])
            if msg["type"] == "assignment.created" and data.get("assigned_at"):
                # assignment committed -> the phone hears it (wall clock, unscaled)
                self.sim.stats.feed_lag_ms.append(
                    (time.time() - datetime.fromisoformat(data["assigned_at"]).timestamp()) * 1000)
            if self.job is not None:
                self.job.cancel()
            self.assignment_id = data["id"]
            self.busy_since = self.busy_since or self.sim.clock.sim()
            self.job = asyncio.create_task(self.work(data))
        elif data["id"] == self.assignment_id and data["status"] in ("cancelled", "timed_out", "cleared", "declined"):
            # Taken off (cancelled, the call closed or cancelled, timed out): stop and go home.
            if self.job is not None and not self.job.done() and data["status"] != "cleared":
                self.job.cancel()
                self.assignment_id = None
                self.busy_since = None
                self.job = asyncio.create_task(self.go_home(available_first=data["status"] == "timed_out"))

    async def act(self, assignment_id, verb, body=None):
        r = await self.api.post(f"/api/v1/assignments/{assignment_id}/{verb}/", body)
        if r.status_code == 409:
            raise asyncio.CancelledError  # overtaken by the centre (call closed, unit taken off)
        if r.status_code != 200:
            self.sim.error(f"{self.plan.callsign} {verb} {r.status_code} {r.text[:200]}")
            raise asyncio.CancelledError
        return r.json()

    async def work(self, assignment):
        aid = assignment["id"]
        try:
            await self.sim.clock.sleep(Profile.draw(self.sim.profile.ack_s, self.rng))
            if self.rng.random() < DECLINE_SHARE:
                self.sim.stats.declined += 1
                await self.act(aid, "decline", {"reason": "vehicle fault (simulated)"})
                self.assignment_id = None
                self.busy_since = None
                return
            await self.act(aid, "acknowledge")
            me = await self.api.get("/api/v1/me/")
            call = me.json().get("call") if me.status_code == 200 else None
            if not call or not call.get("location") or (me.json().get("assignment") or {}).get("id") != aid:
                raise asyncio.CancelledError
            dest = (call["location"]["lat"], call["location"]["lon"])
            await self.move_to(dest, urgent=call["priority"] <= 2)
            await self.act(aid, "arrive")
            service = self.plan.service
            await self.sim.clock.sleep(Profile.draw(self.sim.profile.on_scene_s[service], self.rng))
            transport = service == "medical" and call["incident_type"] not in ("other",) and \
                self.rng.random() < self.sim.profile.transport_share
            await self.act(aid, "clear", {"transporting": transport})
            self.assignment_id = None
            if transport:
                self.sim.stats.transported.add(aid)
                hospital = min(self.sim.hospitals, key=lambda h: air_m(h, self.pos))
                await self.move_to(hospital, urgent=False)
                await self.sim.clock.sleep(Profile.draw(self.sim.profile.handover_s, self.rng))
            self.sim.record_busy(self.plan.service, self.busy_since, self.sim.clock.sim())
            self.busy_since = None
            await self.go_home(available_first=transport)
        except asyncio.CancelledError:
            if self.assignment_id == aid:
                self.assignment_id = None
                if self.busy_since is not None:
                    self.sim.record_busy(self.plan.service, self.busy_since, self.sim.clock.sim())
                self.busy_since = None
            return

    async def go_home(self, available_first=False):
        """Back to the station, available on the way (the centre may send it anywhere)."""
        if available_first:
            r = await self.api.post("/api/v1/me/status/", {"status": "available"})
            if r.status_code not in (200, 409):
                self.sim.error(f"{self.plan.callsign} available {r.status_code} {r.text[:200]}")
        if air_m(self.pos, self.plan.station) > 50:
            await self.move_to(self.plan.station)

