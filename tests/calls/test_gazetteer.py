"""The gazetteer: normalisation, loading, geocoding and reverse geocoding, and their API."""

import gzip
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from calls.gazetteer import corner_candidates, geocode, normalize, reverse_geocode
from calls.gazetteer_load import load_gazetteer_file
from calls.models import GazetteerEntry

SHIPPED = Path(__file__).resolve().parents[2] / "calls" / "data" / "astana_gazetteer.json.gz"


def street(label, *points, importance=0.5):
    """A street entry; points are (lat, lon), one line."""
    lat, lon = points[len(points) // 2]
    return {"kind": "street", "label": label, "lat": lat, "lon": lon, "importance": importance,
            "lines": [[[p[1], p[0]] for p in points]]}  # fmt: skip


def corner(a, b, lat, lon):
    return {"kind": "intersection", "label": f"{a} / {b}", "streets": [a, b], "lat": lat, "lon": lon}


# A few real Astana streets, shortened to a couple of points each.
ENTRIES = [
    street("Қабанбай Батыр даңғылы", (51.1200, 71.4200), (51.1100, 71.4130), (51.1013, 71.4070), importance=1),
    street("Қабанбай батыр көшесі", (51.1330, 71.2080), (51.1324, 71.2086), importance=0.05),
    street("Кенесары көшесі", (51.1604, 71.3968), (51.1640, 71.4300), (51.1611, 71.4683), importance=0.7),
    street("Абылай Хан даңғылы", (51.1650, 71.4600), (51.1611, 71.4683), (51.1513, 71.4944), importance=0.8),
    street("проспект Абылай Хана", (51.1513, 71.4944), (51.1442, 71.5128), importance=0.4),
    street("Мәңгілік Ел даңғылы", (51.0593, 71.4140), (51.1000, 71.4286), (51.1300, 71.4390), importance=1),
    street("улица Абая", (51.2491, 71.2506), (51.2467, 71.2590), importance=0.2),
    street("Абая переулок", (51.1700, 71.3996), (51.1693, 71.3998), importance=0.01),
    street("Сәкен Сейфуллин көшесі", (51.1650, 71.4180), (51.1750, 71.4170), importance=0.6),
    street("улица Республики", (50.9990, 71.3750), (50.9975, 71.3755), importance=0.1),
    street("Республика даңғылы", (51.1650, 71.4270), (51.1800, 71.4240), importance=0.7),
    corner("Абылай Хан даңғылы", "Кенесары көшесі", 51.161053, 71.468287),
    corner("Республика даңғылы", "Сәкен Сейфуллин көшесі", 51.171369, 71.425712),
    corner("Кенесары көшесі", "Кенесары көшесі", 51.1640, 71.4300),  # one street's two names: skipped
]
KENESARY_ABYLAI = (51.161053, 71.468287)
MALLS = {
    "type": "FeatureCollection",
    "features": [
        {"type": "Feature", "id": "1",
         "properties": {"name": "Khan Shatyr", "addr_street": "Turan Avenue", "addr_housenumber": "37",
                        "image_link": "https://example.invalid/x.jpg"},
         "geometry": {"type": "Polygon", "coordinates": [[[71.4030, 51.1320], [71.4050, 51.1320], [71.4050, 51.1330],
                                                          [71.4030, 51.1330], [71.4030, 51.1320]]]}},
        {"type": "Feature", "id": "2", "properties": {"name": ""},
         "geometry": {"type": "Point", "coordinates": [71.4, 51.1]}},
    ],
}  # fmt: skip


def write(path, entries, source="test-city"):
    doc = {"format": "dispatch-gazetteer/1", "source": source, "entries": entries}
    raw = json.dumps(doc, ensure_ascii=False).encode()
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


@pytest.fixture
def gazetteer(db, tmp_path):
    load_gazetteer_file(write(tmp_path / "city.json", ENTRIES))
    malls = tmp_path / "malls.geojson"
    malls.write_text(json.dumps(MALLS))
    load_gazetteer_file(malls)


def top(q):
    results = geocode(q)
    assert results, f"nothing for {q!r}"
    return results[0]


# --- Normalisation (no database) ------------------------------------------------------------


@pytest.mark.parametrize(
    "spellings",
    [
        [
            "пр. Кабанбай батыра",
            "Қабанбай Батыр даңғылы",
            "кабанбай батыр",
            "проспект Кабанбай Батыр",
            "Kabanbay Batyr",
        ],
        ["проспект Абылай Хана", "Абылай хан даңғылы", "абылай хан", "пр-т Абылай хана"],
        ["Мангилик Ел", "Мәңгілік Ел даңғылы", "МӘҢГІЛІК ЕЛ", "мангилик ел пр."],
        ["ул. Сейфуллина", "улица Сейфуллина", "Сейфуллин көшесі", "сейфуллин көш."],
        ["проспект Республики", "Республика даңғылы", "пр. Республики"],
        ["улица Абая", "Абай даңғылы", "Абая"],
        ["Қарқаралы тас жолы", "Каркаралы шоссе"],
        ["шоссе Алаш", "Алаш ш.", "Алаш тас жолы"],
        ["пр-т Аль-Фараби", "Әл-Фараби даңғылы", "проспект Аль Фараби"],
        ["Самал шағын ауданы", "мкр. Самал", "микрорайон Самал", "м-н Самал"],
        ["б-р Нуржол", "Нұржол бульвары", "бульвар Нуржол"],
        ["пер. Дәулет", "Дәулет тұйығы", "переулок Даулет"],
        ["101-я улица", "улица 101", "101 көшесі"],
        ["улица 2-й микрорайон", "микрорайон улица 2", "2 мкр."],
        ["Жёлтая улица", "желтая"],
        ["Khan Shatyr", "Хан Шатыр"],
        ["улица E-429", "Е-429"],  # Latin E as OSM has it, Cyrillic Е as operators type it
    ],
)
def test_the_ways_people_write_a_street_share_one_key(spellings):
    keys = {normalize(s) for s in spellings}
    assert len(keys) == 1 and "" not in keys, keys


@pytest.mark.parametrize(
    "spoken, key",
    [
        ("Қабанбай Батыр даңғылы", "кабанба батыр"),
        ("улица 2-й микрорайон", "2 мкр"),
        ("Набережная", "набережна"),
        ("39-шы көше көшесі", "39"),
    ],
)
def test_the_key_is_lower_case_folded_and_stemmed(spoken, key):
    assert normalize(spoken) == key


def test_different_streets_keep_different_keys():
    assert normalize("улица 2-й микрорайон") != normalize("2 улица")
    assert normalize("Кенесары") != normalize("Кенесары хан")


def test_normalize_of_nothing_is_empty():
    assert normalize("") == normalize("  ,.; ") == normalize(None) == ""


@pytest.mark.parametrize(
    "query, pair",
    [
        ("Кенесары и Абылай хана", ("кенесары", "абылай хана")),
        ("угол Кенесары / Абылай Хан", ("кенесары", "абылай хан")),
        ("пересечение Кенесары и Абылай хана", ("кенесары", "абылай хана")),
        ("на углу Кенесары и Абылай хана", ("кенесары", "абылай хана")),
        ("Кенесары & Абылай хан", ("кенесары", "абылай хан")),
        ("Кенесары, Абылай хан", ("кенесары", "абылай хан")),
        ("Кенесары мен Абылай хан қиылысы", ("кенесары", "абылай хан")),
    ],
)
def test_corner_forms_split_into_two_streets(query, pair):
    assert corner_candidates(query) == [pair]


def test_a_street_name_is_no_corner():
    assert corner_candidates("Кабанбай батыра") == []
    assert corner_candidates("угол") == []


# --- Geocoding --------------------------------------------------------------------------------


def test_three_spellings_of_kabanbay_batyr_find_the_same_avenue(gazetteer):
    for q in ["пр. Кабанбай батыра", "Қабанбай Батыр даңғылы", "кабанбай батыр", "проспект Кабанбай Батыр"]:
        assert top(q)["label"] == "Қабанбай Батыр даңғылы", q
        assert top(q)["kind"] == "street"


def test_kazakh_letters_typed_on_a_russian_keyboard(gazetteer):
    assert top("Мангилик Ел")["label"] == "Мәңгілік Ел даңғылы"
    assert top("сакен сейфуллин")["label"] == "Сәкен Сейфуллин көшесі"


@pytest.mark.parametrize(
    "q",
    [
        "Кенесары и Абылай хана",
        "угол Кенесары / Абылай Хан",
        "пересечение Кенесары и Абылай хана",
        "Абылай хан & Кенесары",
        "Кенесары, Абылай хана",
        "ул. Кенесары / пр. Абылай хана",
    ],
)
def test_a_corner_finds_the_intersection(gazetteer, q):
    best = top(q)
    assert best["kind"] == "intersection"
    assert (best["lat"], best["lon"]) == pytest.approx(KENESARY_ABYLAI)


def test_a_corner_of_russian_genitive_names(gazetteer):
    best = top("угол Сейфуллина и Республики")
    assert best["label"] == "Республика даңғылы / Сәкен Сейфуллин көшесі"


def test_two_names_of_one_street_make_no_corner(gazetteer):
    assert not GazetteerEntry.objects.filter(kind="intersection", street_a="кенесары", street_b="кенесары").exists()


def test_the_street_word_picks_between_streets_of_one_name(gazetteer):
    assert top("пер. Абая")["label"] == "Абая переулок"
    assert top("улица Абая")["label"] == "улица Абая"
    assert top("улица Республики")["label"] == "улица Республики"
    assert top("проспект Республики")["label"] == "Республика даңғылы"


def test_a_place_is_found_under_its_latin_name_in_cyrillic(gazetteer):
    best = top("Хан Шатыр")
    assert best["label"] == "Khan Shatyr" and best["kind"] == "place"
    assert (best["lat"], best["lon"]) == pytest.approx((51.1325, 71.404), abs=0.001)


def test_results_are_best_first_with_the_contract_keys(gazetteer):
    results = geocode("Кабанбай батыр", limit=3)
    assert 1 <= len(results) <= 3
    assert all(set(r) == {"label", "kind", "lat", "lon", "score"} for r in results)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)


def test_nothing_matches_nonsense(gazetteer):
    assert geocode("zzqxw") == []
    assert geocode(" ,. ") == []


def test_geocode_inside_a_callers_transaction_leaves_its_settings_alone(gazetteer):
    with transaction.atomic(), connection.cursor() as cursor:
        geocode("Кенесары и Абылай хана")
        cursor.execute("SELECT current_setting('enable_seqscan')")
        assert cursor.fetchone()[0] == "on"


# --- Loading ----------------------------------------------------------------------------------


def test_loading_again_replaces_the_same_source_and_keeps_others(db, tmp_path):
    first = write(tmp_path / "city.json.gz", ENTRIES)
    call_command("load_gazetteer", str(first), stdout=io.StringIO())
    call_command("load_gazetteer", str(first), stdout=io.StringIO())
    assert GazetteerEntry.objects.filter(source="test-city", kind="street").count() == 11
    assert GazetteerEntry.objects.filter(source="test-city", kind="intersection").count() == 2

    other = write(tmp_path / "other.json", [street("улица Новая", (51.0, 71.0), (51.001, 71.001))], source="other")
    call_command("load_gazetteer", str(other), stdout=io.StringIO())
    smaller = write(tmp_path / "city2.json", ENTRIES[:2])
    call_command("load_gazetteer", str(smaller), stdout=io.StringIO())
    assert GazetteerEntry.objects.filter(source="test-city").count() == 2
    assert GazetteerEntry.objects.filter(source="other").count() == 1


def test_a_geojson_of_places_loads_under_its_file_name(db, tmp_path):
    path = tmp_path / "malls.geojson"
    path.write_text(json.dumps(MALLS))
    loaded = load_gazetteer_file(path)
    assert loaded == {"source": "malls", "counts": {"place": 1, "address": 1}}
    assert set(GazetteerEntry.objects.values_list("label", flat=True)) == {
        "Khan Shatyr",
        "Turan Avenue 37 (Khan Shatyr)",
    }


def test_an_unknown_file_is_refused(db, tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(Exception, match="neither"):
        call_command("load_gazetteer", str(path))
    assert not GazetteerEntry.objects.exists()


def test_the_shipped_city_loads_fast_and_answers_the_spec_examples(db):
    loaded = load_gazetteer_file(SHIPPED)
    assert loaded["source"] == "osm-astana"
    assert loaded["counts"]["street"] > 1500 and loaded["counts"]["intersection"] > 3000
    avenue = {top(q)["label"] for q in ["пр. Кабанбай батыра", "Қабанбай Батыр даңғылы", "кабанбай батыр"]}
    assert avenue == {"Қабанбай Батыр даңғылы"}
    for q in ["Кенесары и Абылай хана", "угол Кенесары / Абылай Хан"]:
        best = top(q)
        assert best["kind"] == "intersection" and "Кенесары" in best["label"] and "Абылай" in best["label"]
    assert top("Мангилик Ел")["label"] == "Мәңгілік Ел даңғылы"


# --- Reverse geocoding ---------------------------------------------------------------------------


def test_reverse_near_a_corner_names_the_corner(gazetteer):
    found = reverse_geocode(51.16110, 71.46835)
    assert found["kind"] == "intersection" and found["label"] == "Абылай Хан даңғылы / Кенесары көшесі"
    assert found["distance_m"] < 10


def test_reverse_along_a_street_names_the_street_and_its_nearest_point(gazetteer):
    found = reverse_geocode(51.1100, 71.4145)  # ~100 m east of the avenue's middle point
    assert found["kind"] == "street" and found["label"] == "Қабанбай Батыр даңғылы"
    assert 50 < found["distance_m"] < 150
    assert found["lon"] < 71.4145


def test_reverse_at_a_place_names_the_place(gazetteer):
    assert reverse_geocode(51.1325, 71.4040)["label"] in {"Khan Shatyr", "Turan Avenue 37 (Khan Shatyr)"}


def test_reverse_far_from_everything_is_none(gazetteer):
    assert reverse_geocode(51.3, 71.9) is None
    assert reverse_geocode(-33.9, 151.2) is None


# --- API -----------------------------------------------------------------------------------------

GEOCODE, REVERSE = "/api/v1/geocode/", "/api/v1/geocode/reverse/"
geo_urls = pytest.mark.urls("tests.calls.geo_urls")


@geo_urls
def test_geocode_api_answers_results(gazetteer, operator_client):
    response = operator_client.get(GEOCODE, {"q": "угол Кенесары / Абылай Хан"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[0]["kind"] == "intersection"
    assert set(results[0]) == {"label", "kind", "lat", "lon", "score"}


@geo_urls
@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}, {"q": "к" * 201}, {"q": "абая", "limit": 0}])
def test_geocode_api_refuses_a_bad_query(gazetteer, operator_client, params):
    response = operator_client.get(GEOCODE, params)
    assert response.status_code == 400
    assert set(response.json()) <= {"q", "limit"} and response.json()


@geo_urls
def test_reverse_api_answers_the_result_and_flat_keys(gazetteer, supervisor_client):
    body = supervisor_client.get(REVERSE, {"lat": "51.16110", "lon": "71.46835"}).json()
    assert body["result"]["kind"] == "intersection"
    assert {k: body[k] for k in ("label", "kind", "lat", "lon", "distance_m")} == body["result"]


@geo_urls
def test_reverse_api_answers_null_far_away(gazetteer, operator_client):
    body = operator_client.get(REVERSE, {"lat": 0, "lon": 0}).json()
    assert body == {"result": None, "label": None, "kind": None, "lat": None, "lon": None, "distance_m": None}


@geo_urls
@pytest.mark.parametrize(
    "params, field",
    [
        ({"lon": 71.4}, "lat"),
        ({"lat": 51.1}, "lon"),
        ({"lat": 91, "lon": 71.4}, "lat"),
        ({"lat": 51.1, "lon": -180.5}, "lon"),
        ({"lat": "nan", "lon": 71.4}, "lat"),
        ({"lat": 51.1, "lon": "Infinity"}, "lon"),
        ({"lat": "north", "lon": 71.4}, "lat"),
    ],
)
def test_reverse_api_names_the_bad_field(gazetteer, operator_client, params, field):
    response = operator_client.get(REVERSE, params)
    assert response.status_code == 400
    assert list(response.json()) == [field]


@geo_urls
@pytest.mark.parametrize("url, params", [(GEOCODE, {"q": "абая"}), (REVERSE, {"lat": 51.1, "lon": 71.4})])
def test_only_operators_may_geocode(gazetteer, anon_client, gateway_client, url, params):
    # Anonymous: 401, because token authentication asks for credentials; a signed-in non-operator: 403.
    assert anon_client.get(url, params).status_code == 401
    assert gateway_client.get(url, params).status_code == 403
