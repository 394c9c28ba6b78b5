"""The run: set up the fleet through the API, play the day, wind down, read back."""

import asyncio
import json
import logging
import random
import time
import uuid

import httpx
import websockets

from .model import Places, Profile, arrivals, fleet, hospitals
from .runner import ACTIVE, CALL_ENDED, Api, Clock, Crew, Stats, ws_url

log = logging.getLogger("sim")


class Simulation:
    def __init__(self, *, base_url, operator_token, supervisor_token, duration_min, speed, seed, units,
                 calls_per_day, start_hour=0.0, drain_min=120.0, operators=16, progress=None):
        self.base_url = base_url.rstrip("/")
        self.operator_token = operator_token
        self.supervisor_token = supervisor_token
        self.duration_s = duration_min * 60.0
        self.speed = float(speed)
        self.seed = seed
        self.units = units
        self.calls_per_day = calls_per_day
        self.start_hour = start_hour
        self.drain_s = drain_min * 60.0
        self.operators = operators
        self.progress = progress
        self.run_id = uuid.UUID(int=random.Random(f"{seed}:{time.time_ns()}").getrandbits(128)).hex[:8]
        self.tag = f"[sim {self.run_id}]"
        self.stats = Stats()
        self.profile = Profile()
        self.places = Places()
        self.hospitals = hospitals(self.places, seed)
        self.crews = []
        self.call_state = {}  # call id -> last representation seen on the operator socket
        self.ours = set()
        self.busy = []  # (service, start sim s, end sim s)
        self.road_routes = self.straight_routes = 0
        self.stop = asyncio.Event()
        self.abort = asyncio.Event()
        self.tasks = set()
        self.intake = set()  # calls being logged: never cancelled half-way (a lost answer)

    def error(self, text):
        if len(self.stats.errors) < 200:
            self.stats.errors.append(text)
        log.warning("%s", text)

    def record_busy(self, service, start, end):
        if start is not None:
            self.busy.append((service, start, end))

    def spawn(self, coro):
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    # --- the run -------------------------------------------------------------------------------

    async def run(self):
        # An idle connection is dropped by the client before the server's keep-alive can close
        # it under a request (the Procfile's gunicorn: 2 s; httpx's default: 5 s): in a
        # simulated day one POST of 2,069 met a connection the server had just closed (httpx
        # ReadError), and the call it carried never reached the API.
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200, keepalive_expiry=1.0)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=60, limits=limits) as http:
            self.http = http
            self.operator_api = Api(http, self.operator_token)
            self.supervisor_api = Api(http, self.supervisor_token)
            types = await self.operator_api.get("/api/v1/incident-types/")
            if types.status_code != 200:
                raise RuntimeError(f"operator token refused: GET /incident-types/ {types.status_code} {types.text[:200]}")
            body = types.json()
            known = {t["code"] for t in (body["results"] if isinstance(body, dict) else body)}
            self.schedule = [a for a in arrivals(self.profile, self.places, calls_per_day=self.calls_per_day,
                                                 duration_s=self.duration_s, start_hour=self.start_hour,
                                                 seed=self.seed) if a.incident_type in known]
            self.start_event_id = await self.journal_last_id()
            self.started_wall = time.time()
            await self.setup_fleet()
            self.clock = Clock(self.speed)
            self.spawn(self.operator_socket())
            gate = asyncio.Semaphore(16)

            async def on_duty(crew):
                async with gate:
                    await crew.start()
            await asyncio.gather(*(on_duty(crew) for crew in self.crews))
            self.clock = Clock(self.speed)  # the day starts when every crew is on duty
            for crew in self.crews:
                self.spawn(crew.feed())
                self.spawn(crew.reporter())
            progress = self.spawn(self.report_progress())
            await self.play()
            await self.wind_down()
            progress.cancel()
            self.ended_wall = time.time()
            return await self.read_back()

    async def journal_last_id(self):
        r = await self.supervisor_api.get("/api/v1/events/", since=10**15)
        r.raise_for_status()
        return r.json()["last_id"]

    async def setup_fleet(self):
        """The fleet through the supervisors' API: reuse SIM-* units by callsign, create the
        missing ones, take the run's surplus out of service, issue each a device token."""
        existing, url = {}, "/api/v1/units/"
        foreign_available = 0
        while url:
            r = await self.supervisor_api.get(url)
            r.raise_for_status()
            page = r.json()
            for unit in page["results"]:
                existing[unit["callsign"]] = unit
                if not unit["callsign"].startswith("SIM-") and unit["status"] == "available":
                    foreign_available += 1
            url = page.get("next")
        self.foreign_available = foreign_available
        plans = fleet(self.units, self.places, self.seed)
        wanted = {p.callsign for p in plans}
        gate = asyncio.Semaphore(8)

        async def prepare(plan):
            async with gate:
                unit = existing.get(plan.callsign)
                body = {"callsign": plan.callsign, "service": plan.service, "capabilities": plan.capabilities,
                        "home_station": plan.home_station}
                if unit is None:
                    r = await self.supervisor_api.post("/api/v1/units/", body, retry=False)
                else:
                    r = await self.supervisor_api.request("PATCH", f"/api/v1/units/{unit['id']}/", json_body=body)
                if r.status_code not in (200, 201):
                    raise RuntimeError(f"{plan.callsign}: {r.status_code} {r.text[:300]}")
                unit_id = r.json()["id"]
                t = await self.supervisor_api.post(f"/api/v1/units/{unit_id}/token/")
                t.raise_for_status()
                return Crew(self, plan, unit_id, t.json()["token"])

        async def retire(unit):
            async with gate:
                r = await self.supervisor_api.post(f"/api/v1/units/{unit['id']}/out-of-service/")
                if r.status_code not in (200, 409):
                    self.error(f"{unit['callsign']} out of service: {r.status_code}")

        self.crews = await asyncio.gather(*(prepare(p) for p in plans))
        await asyncio.gather(*(retire(u) for c, u in existing.items()
                               if c.startswith("SIM-") and c not in wanted and u["status"] != "out_of_service"))

    async def play(self):
        """Log the calls at their simulated times, each by a free operator (16 desks)."""
        desks = asyncio.Semaphore(self.operators)
        self.stats.intake_lag_s = []
        for arrival in self.schedule:
            if self.stop.is_set():
                break
            sleeper = asyncio.create_task(self.clock.until(arrival.at_s))
            stopper = asyncio.create_task(self.stop.wait())
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
            sleeper.cancel()
            stopper.cancel()
            if self.stop.is_set():
                break
            task = asyncio.create_task(self.log_call(arrival, desks))
            self.intake.add(task)
            task.add_done_callback(self.intake.discard)
        if not self.stop.is_set():
            await self.clock.until(self.duration_s)
        self.arrivals_ended_s = min(self.clock.sim(), self.duration_s)

    async def log_call(self, arrival, desks):
        async with desks:
            if self.stop.is_set():
                return  # still waiting for a desk when the run was stopped: never sent
            self.stats.intake_lag_s.append(self.clock.sim() - arrival.at_s)
            body = {"incident_type": arrival.incident_type, "caller_phone": arrival.phone, "channel": "voice",
                    "description": f"{self.tag} #{arrival.seq}",
                    "location": {"lat": arrival.lat, "lon": arrival.lon, "accuracy_m": arrival.accuracy_m,
                                 "source": "operator"}}
            posted = time.time()
            self.stats.calls_sent += 1
            # Never retried: a retry after a lost answer would log the call twice (docs/api.md, Outages).
            try:
                r = await self.operator_api.post("/api/v1/calls/", body, retry=False)
            except httpx.HTTPError as exc:
                self.stats.calls_refused.append(("error", repr(exc)[:200]))
                return
            if r.status_code != 201:
                self.stats.calls_refused.append((r.status_code, r.text[:200]))
                return
            call = r.json()
            self.ours.add(call["id"])
            self.stats.calls[call["id"]] = {"seq": arrival.seq, "type": arrival.incident_type, "posted_at": posted,
                                            "answered_at": time.time(), "at_s": arrival.at_s}
            self.call_state.setdefault(call["id"], call)
        if arrival.incident_type == "other":  # advice on the phone, no unit: closed by the operator
            self.spawn(self.later(random.Random(f"{self.seed}:{arrival.seq}").uniform(120, 360),
                                  lambda: self.close_call(call["id"], "caller_advised")))

    async def later(self, sim_s, action):
        await self.clock.sleep(sim_s)
        await action()

    # --- the operator's socket ------------------------------------------------------------------

    async def operator_socket(self):
        last = self.start_event_id
        while True:
            try:
                url = ws_url(self.base_url, "/ws/events/", self.operator_token, last)
                async with websockets.connect(url, open_timeout=20, max_queue=None) as ws:
                    self.operator_ws = ws
                    async for raw in ws:
                        msg = json.loads(raw)
                        if msg.get("type") == "pong":
                            self.pong_last_id = msg.get("last_id")
                            continue
                        if msg.get("id") is None:
                            continue
                        if msg["id"] in self.stats.ws_events:
                            self.stats.ws_duplicates = getattr(self.stats, "ws_duplicates", 0) + 1
                        self.stats.ws_events[msg["id"]] = msg["type"]
                        last = max(last, msg["id"])
                        self.on_event(msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("operator socket: %r", exc)
                self.operator_ws = None
                await asyncio.sleep(1.0)

    def on_event(self, msg):
        data = msg.get("data") or {}
        kind = msg["type"]
        if kind in ("call.created", "call.updated"):
            if data.get("id") in self.ours or self.tag in (data.get("description") or ""):
                self.ours.add(data["id"])
                self.call_state[data["id"]] = data
        elif kind == "assignment.created":
            if data.get("call") in self.ours and data["call"] not in self.stats.ws_event_at:
                self.stats.ws_event_at[data["call"]] = time.time()
        elif kind == "assignment.updated":
            if data.get("call") in self.ours and data.get("status") == "cleared":
                self.spawn(self.later(random.Random(f"{self.seed}:close:{data['id']}").uniform(30, 120),
                                      lambda: self.maybe_close(data["call"])))
        elif kind == "alert.raised":
            call_id = data.get("call")
            if data.get("kind") == "no_unit_available":
                self.stats.alerted.add(call_id)
            elif data.get("kind") == "possible_duplicate" and data.get("held"):
                self.stats.held.add(call_id)
                # The operator reads both calls: different callers, different places: release.
                self.spawn(self.later(random.Random(f"{self.seed}:dup:{call_id}").uniform(30, 90),
                                      lambda: self.operator_api.post(f"/api/v1/calls/{call_id}/dispatch/")))

    async def maybe_close(self, call_id):
        r = await self.operator_api.get(f"/api/v1/calls/{call_id}/")
        if r.status_code != 200:
            return
        call = r.json()
        if call["status"] in CALL_ENDED or call["status"] == "pending":
            return
        if any(a["status"] in ACTIVE for a in call["assignments"]):
            return  # another unit still works it: its clear brings the operator back
        transported = any(a["id"] in self.stats.transported for a in call["assignments"])
        await self.close_call(call_id, "transported" if transported else "resolved")

    async def close_call(self, call_id, disposition):
        r = await self.operator_api.post(f"/api/v1/calls/{call_id}/close/", {"disposition": disposition})
        if r.status_code not in (200, 409):
            self.error(f"close {call_id}: {r.status_code} {r.text[:200]}")
        return r

    # --- progress and the end -----------------------------------------------------------------

    def counts(self):
        waiting = sum(1 for c in self.call_state.values()
                      if c["status"] not in CALL_ENDED and (c["status"] == "pending" or c.get("unmet_needs")))
        open_calls = sum(1 for c in self.call_state.values() if c["status"] not in CALL_ENDED)
        busy = {}
        for crew in self.crews:
            if crew.busy:
                busy[crew.plan.service] = busy.get(crew.plan.service, 0) + 1
        return waiting, open_calls, busy

    async def report_progress(self):
        while True:
            now = self.clock.sim()
            waiting, open_calls, busy = self.counts()
            self.stats.queue_samples.append((round(now, 1), waiting, busy))
            if self.progress:
                self.progress(self, now, waiting, open_calls, busy)
            await asyncio.sleep(0.5)

    async def wind_down(self):
        """No new calls; crews finish their work (up to --drain simulated minutes, none after
        Ctrl+C); then the run's calls still open are cancelled, the fleet goes out of service."""
        if self.intake:  # the calls being logged: their answers (and ids) must come back
            await asyncio.wait(set(self.intake))
        deadline = self.clock.sim() + (0 if self.stop.is_set() else self.drain_s)
        while self.clock.sim() < deadline and not self.stop.is_set():
            if self.ours and all(c["status"] in CALL_ENDED for c in self.call_state.values()) and \
                    len(self.call_state) >= len(self.stats.calls):
                break
            await asyncio.sleep(0.25)
        open_ids = await self.open_calls()
        gate = asyncio.Semaphore(8)

        async def cancel(call_id):
            async with gate:
                r = await self.operator_api.post(f"/api/v1/calls/{call_id}/cancel/",
                                                 {"reason": "end of simulation"})
                if r.status_code == 200:
                    self.stats.closed_by_sim_at_end += 1
        if not self.abort.is_set():
            await asyncio.gather(*(cancel(i) for i in open_ids))
        now = self.clock_end_s = self.clock.sim()
        for crew in self.crews:
            if crew.busy_since is not None:
                self.record_busy(crew.plan.service, crew.busy_since, now)
                crew.busy_since = None
        for task in list(self.tasks):
            if task.get_coro().__name__ != "operator_socket":
                task.cancel()
        for crew in self.crews:
            if crew.job is not None:
                crew.job.cancel()
        await asyncio.sleep(0.1)
        if not self.abort.is_set():
            await asyncio.gather(*(self.off_duty(c, gate) for c in self.crews))
        await self.sync_operator_socket()

    async def open_calls(self):
        """The run's calls still open, as the server has them (not as the socket said)."""
        found, url = [], "/api/v1/calls/"
        params = {"status": "pending,dispatched,on_scene", "page_size": 200,
                  "received_after": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started_wall - 2))}
        while url:
            r = await self.operator_api.get(url, **params)
            if r.status_code != 200:
                self.error(f"open calls: {r.status_code}")
                return [i for i, c in self.call_state.items() if c["status"] not in CALL_ENDED]
            page = r.json()
            found += [c["id"] for c in page["results"] if self.tag in (c.get("description") or "")]
            url, params = page.get("next"), {}
        return found

    async def off_duty(self, crew, gate):
        async with gate:
            r = await crew.api.post("/api/v1/me/status/", {"status": "out_of_service"})
            if r.status_code not in (200, 409):
                self.error(f"{crew.plan.callsign} out of service: {r.status_code}")

    async def sync_operator_socket(self, timeout=20.0):
        """Wait until the operator's socket has examined the journal's last row (pong)."""
        self.end_event_id = await self.journal_last_id()
        deadline = time.monotonic() + (3.0 if self.abort.is_set() else timeout)
        self.pong_last_id = None
        while time.monotonic() < deadline:
            ws = getattr(self, "operator_ws", None)
            if ws is not None:
                try:
                    await ws.send(json.dumps({"type": "ping"}))
                except Exception:
                    pass
            await asyncio.sleep(0.5)
            if (self.pong_last_id or 0) >= self.end_event_id:
                break
        for task in list(self.tasks):
            task.cancel()

    async def read_back(self):
        """The run's calls as the history stores them, and the journal since the start."""
        calls, url = [], "/api/v1/calls/"
        params = {"received_after": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started_wall - 2)),
                  "page_size": 200}
        while url:
            r = await self.supervisor_api.get(url, **params)
            r.raise_for_status()
            page = r.json()
            calls.extend(c for c in page["results"] if self.tag in (c.get("description") or ""))
            url, params = page.get("next"), {}
        journal, since = {}, self.start_event_id
        while since < self.end_event_id:
            r = await self.supervisor_api.get("/api/v1/events/", since=since)
            r.raise_for_status()
            page = r.json()
            if not page["results"]:
                break
            for e in page["results"]:
                if e["id"] <= self.end_event_id:
                    journal[e["id"]] = e["type"]
            since = page["last_id"]
        return {"calls": calls, "journal": journal}
