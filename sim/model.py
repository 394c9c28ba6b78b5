"""What the simulation draws from: the call profile (sim/data/sf_profile.json), the
arrival process, places over Astana and the fleet. Pure Python, no I/O beyond reading the
shipped files, so a seed gives the same day every time."""

import bisect
import gzip
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROFILE = HERE / "data" / "sf_profile.json"
GAZETTEER = HERE.parent / "calls" / "data" / "astana_gazetteer.json.gz"
EARTH_RADIUS_M = 6_371_008.8
SERVICES = ("police", "medical", "fire", "utility")
DEFAULT_UNITS = {"police": 40, "medical": 60, "fire": 15, "utility": 20}
# Capabilities handed out in turn, as the demo fleet does; every capability a response
# plan asks for exists once a service has at least as many units as its list has entries.
CAPABILITIES = {
    "police": [[], ["k9"], []],
    "medical": [["als", "bls"], ["bls"]],
    "fire": [[], ["ladder"], ["hazmat"]],
    "utility": [["gas"], ["electric"], ["water"], ["heating"]],
}
# Speed over the straight line when no road route is available (urban, with lights on).
CLASS_SPEED_KMH = {"police": 40.0, "medical": 40.0, "fire": 35.0, "utility": 30.0}
STRAIGHT_DETOUR = 1.3  # an Astana route is ~1.3x the straight line (bench/README.md)
# Astana within its city limits (min lat, min lon, max lat, max lon), roughly.
CITY = (51.02, 71.25, 51.26, 71.62)
MAX_SEGMENT_M = 500.0


def air_m(a, b):
    """Great-circle metres between two (lat, lon)."""
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    dp, dl = p2 - p1, math.radians(b[1] - a[1])
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def parse_units(value):
    """`police=40,medical=60,...`, or a file holding that text or a JSON object of counts."""
    text = value
    path = Path(value)
    if "=" not in value and path.exists():
        text = path.read_text().strip()
        if text.startswith("{"):
            counts = json.loads(text)
            return _checked_counts(counts)
    counts = {}
    for part in text.replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        name, _, number = part.partition("=")
        if not number.strip().isdigit():
            raise ValueError(f"--units: {part!r} is not service=N")
        counts[name.strip()] = int(number)
    return _checked_counts(counts)


def _checked_counts(counts):
    unknown = set(counts) - set(SERVICES)
    if unknown:
        raise ValueError(f"--units: unknown service {sorted(unknown)}; use {', '.join(SERVICES)}")
    return {s: int(counts.get(s, 0)) for s in SERVICES}


class Profile:
    def __init__(self, path=PROFILE):
        data = json.loads(Path(path).read_text())
        self.data = data
        self.hourly = data["hourly"]
        self.types = sorted(data["types"].items())
        self.ack_s = data["ack_s"]
        self.on_scene_s = data["on_scene_s"]
        self.transport_share = data["transport"]["share"]
        self.handover_s = data["transport"]["handover_s"]

    @staticmethod
    def draw(quantiles, rng):
        """A value from 21 quantiles (0, 5, ..., 100 %), linear in between. The slowest 5 %
        are drawn up to the 95th percentile only: the log's tail holds hours-long outliers
        (clock errors, units forgotten "on scene") that would stall a compressed run."""
        u = rng.random() * 19
        i = int(u)
        return quantiles[i] + (quantiles[i + 1] - quantiles[i]) * (u - i)


class Places:
    """Points on Astana's streets (the gazetteer's street lines), drawn in proportion to
    street length: busy, dense quarters get more calls than the steppe edge."""

    def __init__(self, path=GAZETTEER):
        entries = json.load(gzip.open(path, "rt"))["entries"]
        self.segments, self.cumulative = [], []
        total = 0.0
        for entry in entries:
            if entry.get("kind") != "street":
                continue
            for line in entry.get("lines") or []:
                for (lon1, lat1), (lon2, lat2) in zip(line, line[1:], strict=False):
                    length = air_m((lat1, lon1), (lat2, lon2))
                    # Only the city (the extract reaches out to other settlements), and no
                    # jumps between pieces of a way that a line would draw across fields.
                    if not 0 < length <= MAX_SEGMENT_M or not all(
                            CITY[0] <= lat <= CITY[2] and CITY[1] <= lon <= CITY[3]
                            for lat, lon in ((lat1, lon1), (lat2, lon2))):
                        continue
                    total += length
                    self.segments.append(((lat1, lon1), (lat2, lon2)))
                    self.cumulative.append(total)
        self.total = total

    def draw(self, rng):
        i = bisect.bisect_left(self.cumulative, rng.random() * self.total)
        (lat1, lon1), (lat2, lon2) = self.segments[min(i, len(self.segments) - 1)]
        f = rng.random()
        # a building beside the street, not the centre line: up to ~30 m off
        return (round(lat1 + (lat2 - lat1) * f + rng.uniform(-2.5e-4, 2.5e-4), 6),
                round(lon1 + (lon2 - lon1) * f + rng.uniform(-4e-4, 4e-4), 6))


@dataclass
class Arrival:
    seq: int
    at_s: float  # simulated seconds after the start
    incident_type: str
    lat: float
    lon: float
    accuracy_m: int
    phone: str


def arrivals(profile, places, *, calls_per_day, duration_s, start_hour, seed):
    """A non-homogeneous Poisson process: constant rate within each hour of the day,
    calls_per_day x that hour's share of the log's calls. Exponential gaps, re-drawn at
    each hour's edge (memoryless, so that is exact)."""
    rng = random.Random(f"{seed}:arrivals")
    codes = [c for c, _ in profile.types]
    weights = [w for _, w in profile.types]
    out, t = [], 0.0
    while t < duration_s:
        clock = start_hour * 3600 + t
        hour = int(clock // 3600) % 24
        hour_end = t + (3600 - clock % 3600)
        rate = calls_per_day * profile.hourly[hour] / 3600.0
        gap = rng.expovariate(rate) if rate > 0 else math.inf
        if t + gap >= hour_end:
            t = hour_end
            continue
        t += gap
        if t >= duration_s:
            break
        lat, lon = places.draw(rng)
        out.append(Arrival(
            seq=len(out) + 1, at_s=t, incident_type=rng.choices(codes, weights)[0], lat=lat, lon=lon,
            accuracy_m=rng.choice((10, 15, 20, 30, 50)), phone=f"+7701{rng.randrange(10**7):07d}",
        ))
    return out


@dataclass
class UnitPlan:
    callsign: str
    service: str
    capabilities: list
    station: tuple
    home_station: str
    meta: dict = field(default_factory=dict)


def fleet(counts, places, seed):
    """The units to play, spread over stations placed on the street network (one station
    per ~8 units, at least 6). Callsigns are stable (`SIM-A-007`), so a later run reuses
    the same units."""
    rng = random.Random(f"{seed}:stations")
    total = sum(counts.values())
    stations = [places.draw(rng) for _ in range(max(6, math.ceil(total / 8)))]
    units, k = [], 0
    for service in SERVICES:
        letter = {"police": "P", "medical": "A", "fire": "F", "utility": "U"}[service]
        for i in range(counts[service]):
            station = stations[k % len(stations)]
            k += 1
            units.append(UnitPlan(
                callsign=f"SIM-{letter}-{i + 1:03d}", service=service,
                capabilities=CAPABILITIES[service][i % len(CAPABILITIES[service])],
                station=station, home_station=f"SIM station {k % len(stations) + 1}",
            ))
    return units


def hospitals(places, seed):
    """Stand-ins for the receiving hospitals: six points on the street network (not the
    real hospitals' addresses), the nearest one takes the patient."""
    rng = random.Random(f"{seed}:hospitals")
    return [places.draw(rng) for _ in range(6)]
