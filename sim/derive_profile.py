"""Derive the simulator's call profile from the San Francisco fire call log.

    python -m sim.derive_profile            # writes sim/data/sf_profile.json

Input: data/sf_fire_calls_for_service.csv.gz (DataSF "Fire Department Calls for Service",
PDDL; data/SOURCES.md): 8 days, one row per unit sent, with every milestone. The output is
small, sorted and rounded, so running the script again gives the same bytes.

What comes from the log, and what is assumed (the log is a fire department's: it has no
police and no utility calls):
- `hourly`: the share of calls received in each hour of the day (all 8 days).
- `types`: SF call types mapped onto this project's catalogue (MAPPING below), each SF type's
  share split evenly over the codes it maps to. Medical incidents are split by SF's own
  triage (`Call Type Group`): potentially life-threatening ones to the P1 medical codes,
  the others to the P2 ones.
- `ack_s`: the unit's turnout, dispatch -> response ("en route"): the crew's delay before
  acknowledging.
- `on_scene_s` by service: on scene -> available (medical: -> transport when transported).
- `transport`: the share of medical units that transported, and hospital -> available
  (the hand-over) in seconds.
- ASSUMED (not in the log, stated in the file): the police and utility share of all calls
  and their type mix, their on-scene times. A city 112 centre takes police calls too; the
  split is a planning assumption to be replaced by the centre's own log.
Durations are kept as 21 quantiles (0, 5, ..., 100 %) after dropping negative and
over-12-hour intervals (clock errors in the log).
"""

import csv
import gzip
import hashlib
import json
import sys
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "data" / "sf_fire_calls_for_service.csv.gz"
OUTPUT = Path(__file__).resolve().parent / "data" / "sf_profile.json"

# SF call type (and, for medical incidents, SF's triage group) -> catalogue codes.
MAPPING = {
    ("Medical Incident", "Potentially Life-Threatening"): [
        "cardiac_arrest", "unconscious_person", "breathing_problem", "overdose_poisoning"],
    ("Medical Incident", "*"): ["medical_emergency", "injury_fall", "childbirth"],
    ("Alarms", "*"): ["smoke_alarm"],
    ("Structure Fire", "*"): ["building_fire"],
    ("Traffic Collision", "*"): ["traffic_accident_injury"],
    ("Outside Fire", "*"): ["outdoor_fire"],
    ("Smoke Investigation (Outside)", "*"): ["outdoor_fire"],
    ("Vehicle Fire", "*"): ["vehicle_fire"],
    ("Citizen Assist / Service Call", "*"): ["other"],
    ("Other", "*"): ["other"],
    ("Electrical Hazard", "*"): ["downed_power_line"],
    ("Water Rescue", "*"): ["water_rescue"],
    ("Elevator / Escalator Rescue", "*"): ["elevator_entrapment"],
    ("Gas Leak (Natural and LP Gases)", "*"): ["gas_leak"],
    ("Odor (Strange / Unknown)", "*"): ["gas_leak"],
    ("Confined Space / Structure Collapse", "*"): ["rescue"],
    ("Industrial Accidents", "*"): ["rescue"],
    ("Fuel Spill", "*"): ["hazmat"],
    ("HazMat", "*"): ["hazmat"],
}

# Assumptions (not from the log): the share of all calls that are police or utility calls,
# their mix, and their time on scene (seconds, 21 quantiles), a planner's starting point.
ASSUMED = {
    "share": {"police": 0.30, "utility": 0.06},
    "types": {
        "police": {"public_disorder": 0.25, "traffic_accident": 0.20, "noise_complaint": 0.15,
                   "domestic_violence": 0.12, "assault": 0.08, "burglary": 0.08, "missing_person": 0.05,
                   "robbery": 0.04, "suspicious_object": 0.03},
        "utility": {"heating_failure": 0.35, "power_outage": 0.30, "water_main_break": 0.25,
                    "downed_power_line": 0.10},
    },
    "on_scene_s": {
        "police": [300 + i * 150 for i in range(20)] + [7200],
        "utility": [900 + i * 300 for i in range(20)] + [10800],
    },
}

FMT = "%m/%d/%Y %I:%M:%S %p"
QUANTILES = [i / 20 for i in range(21)]
MAX_S = 12 * 3600


def _t(value):
    return datetime.strptime(value, FMT) if value else None


def _seconds(a, b):
    if a is None or b is None:
        return None
    s = (b - a).total_seconds()
    return s if 0 <= s <= MAX_S else None


def quantiles(values):
    values = sorted(values)
    if not values:
        return []
    out = []
    for q in QUANTILES:
        pos = q * (len(values) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(values) - 1)
        out.append(round(values[lo] + (values[hi] - values[lo]) * (pos - lo), 1))
    return out


def _codes(call_type, group):
    return MAPPING.get((call_type, group)) or MAPPING.get((call_type, "*"))


def derive(path=SOURCE):
    rows = list(csv.DictReader(gzip.open(path, "rt", newline="")))
    calls = {}
    for r in rows:  # one row per unit: the call's facts are on each
        calls.setdefault(r["Call Number"], r)
    hours = Counter(_t(r["Received DtTm"]).hour for r in calls.values())
    sf_types = Counter()
    unmapped = Counter()
    for r in calls.values():
        codes = _codes(r["Call Type"], r["Call Type Group"])
        if codes is None:
            unmapped[r["Call Type"]] += 1
            continue
        for code in codes:
            sf_types[code] += 1 / len(codes)

    ack, on_scene, handover = [], defaultdict(list), []
    medics = transported = 0
    for r in rows:
        ack_s = _seconds(_t(r["Dispatch DtTm"]), _t(r["Response DtTm"]))
        if ack_s is not None:
            ack.append(ack_s)
        arrived, transport = _t(r["On Scene DtTm"]), _t(r["Transport DtTm"])
        available, hospital = _t(r["Available DtTm"]), _t(r["Hospital DtTm"])
        if arrived is None:
            continue
        if r["Unit Type"] in ("MEDIC", "PRIVATE") and r["Call Type"] == "Medical Incident":
            medics += 1
            if transport is not None:
                transported += 1
                s = _seconds(arrived, transport)
                if s is not None:
                    on_scene["medical"].append(s)
                h = _seconds(hospital, available)
                if h is not None:
                    handover.append(h)
            else:
                s = _seconds(arrived, available)
                if s is not None:
                    on_scene["medical"].append(s)
        elif r["Unit Type"] in ("ENGINE", "TRUCK"):
            s = _seconds(arrived, available)
            if s is not None:
                on_scene["fire"].append(s)

    sf_share = 1 - sum(ASSUMED["share"].values())
    total_sf = sum(sf_types.values())
    types = {code: round(sf_share * n / total_sf, 5) for code, n in sf_types.items()}
    for service, mix in ASSUMED["types"].items():
        for code, w in mix.items():
            types[code] = round(types.get(code, 0) + ASSUMED["share"][service] * w, 5)
    return {
        "source": {
            "file": "data/sf_fire_calls_for_service.csv.gz",
            "sha256_gz": hashlib.sha256(path.read_bytes()).hexdigest(),
            "rows": len(rows),
            "calls": len(calls),
            "days": len({r["Call Date"] for r in calls.values()}),
            "licence": "PDDL 1.0 (DataSF)",
            "script": "python -m sim.derive_profile",
        },
        "hourly": [round(hours[h] / len(calls), 5) for h in range(24)],
        "types": dict(sorted(types.items())),
        "unmapped_sf_types": dict(sorted(unmapped.items())),
        "ack_s": quantiles(ack),
        "on_scene_s": {
            "fire": quantiles(on_scene["fire"]),
            "medical": quantiles(on_scene["medical"]),
            **ASSUMED["on_scene_s"],
        },
        "transport": {"share": round(transported / medics, 4), "handover_s": quantiles(handover)},
        "assumed": {"share": ASSUMED["share"], "on_scene_s": sorted(ASSUMED["on_scene_s"]),
                    "types": {k: sorted(v) for k, v in ASSUMED["types"].items()}},
        "mapping": {f"{t} / {g}": codes for (t, g), codes in sorted(MAPPING.items())},
    }


def main(argv=None):
    out = Path(argv[0]) if argv else OUTPUT
    out.write_text(json.dumps(derive(), indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
