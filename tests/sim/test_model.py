"""The simulator's inputs: the derived profile, the arrival process, places and the fleet
(no database, no server)."""

import json
from collections import Counter

import pytest

from sim import derive_profile
from sim.model import Places, Profile, arrivals, fleet, parse_units


def test_the_shipped_profile_is_what_the_script_derives_from_the_call_log(tmp_path):
    out = tmp_path / "profile.json"
    derive_profile.main([str(out)])
    assert out.read_bytes() == derive_profile.OUTPUT.read_bytes()
    profile = json.loads(out.read_text())
    assert abs(sum(profile["hourly"]) - 1) < 1e-3 and len(profile["hourly"]) == 24
    assert abs(sum(profile["types"].values()) - 1) < 1e-3
    assert profile["unmapped_sf_types"] == {}


def test_units_option_reads_counts_from_text_or_a_file(tmp_path):
    assert parse_units("police=3,medical=2") == {"police": 3, "medical": 2, "fire": 0, "utility": 0}
    path = tmp_path / "fleet.json"
    path.write_text('{"fire": 4, "utility": 1}')
    assert parse_units(str(path)) == {"police": 0, "medical": 0, "fire": 4, "utility": 1}
    with pytest.raises(ValueError, match="unknown service"):
        parse_units("boats=3")
    with pytest.raises(ValueError, match="service=N"):
        parse_units("police=many")


@pytest.fixture(scope="module")
def places():
    return Places()


def test_arrivals_repeat_with_the_seed_and_follow_the_hourly_profile(places):
    profile = Profile()
    day = arrivals(profile, places, calls_per_day=4000, duration_s=86400, start_hour=0, seed=7)
    again = arrivals(profile, places, calls_per_day=4000, duration_s=86400, start_hour=0, seed=7)
    other = arrivals(profile, places, calls_per_day=4000, duration_s=86400, start_hour=0, seed=8)
    assert day == again and day != other
    assert 3700 < len(day) < 4300  # Poisson around 4000
    by_hour = Counter(int(a.at_s // 3600) for a in day)
    quiet = min(range(24), key=lambda h: profile.hourly[h])
    busy = max(range(24), key=lambda h: profile.hourly[h])
    assert by_hour[busy] > 1.8 * by_hour[quiet]
    assert all(51.0 < a.lat < 51.28 and 71.2 < a.lon < 71.65 for a in day)  # over Astana


def test_fleet_has_every_capability_a_plan_asks_for_and_stable_callsigns(places):
    units = fleet({"police": 3, "medical": 4, "fire": 3, "utility": 4}, places, seed=1)
    assert [u.callsign for u in units][:4] == ["SIM-P-001", "SIM-P-002", "SIM-P-003", "SIM-A-001"]
    caps = {(u.service, c) for u in units for c in u.capabilities}
    assert {("medical", "als"), ("medical", "bls"), ("fire", "hazmat"), ("utility", "gas"),
            ("utility", "electric"), ("utility", "water"), ("utility", "heating")} <= caps
