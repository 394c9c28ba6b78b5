"""Addresses the way callers say them (issue 21): corners in Russian, Kazakh and English, street
synonyms (Russian and old names, other spellings) kept in the admin, and the bias toward the
caller's AML point or the operator's map view when the text fits several places."""

import gzip
import json

import pytest
from django.contrib.gis.geos import Point

from calls.gazetteer import corner_candidates, geocode, normalize, reverse_geocode
from calls.gazetteer_load import index_street_synonyms, load_gazetteer_file
from calls.models import AmlMessage, Call, GazetteerEntry, StreetSynonym
from tests.factories import new_call


def street(label, *points, importance=0.5):
    lat, lon = points[len(points) // 2]
    return {"kind": "street", "label": label, "lat": lat, "lon": lon, "importance": importance,
            "lines": [[[p[1], p[0]] for p in points]]}  # fmt: skip


def corner(a, b, lat, lon):
    return {"kind": "intersection", "label": f"{a} / {b}", "streets": [a, b], "lat": lat, "lon": lon}


def synonym(name, street_name, kind="russian"):
    return {"kind": "synonym", "name": name, "street": street_name, "synonym_kind": kind, "note": "test"}


# Real Astana names, simplified geometry. Two streets called Сұңқар/Сункар 6 km apart.
SOUTH_SUNKAR, NORTH_SUNKAR = (51.0330, 71.3930), (51.0890, 71.4305)
ENTRIES = [
    street("Кенесары көшесі", (51.1604, 71.3968), (51.1640, 71.4300), (51.1611, 71.4683), importance=0.7),
    street("Абылай Хан даңғылы", (51.1650, 71.4600), (51.1611, 71.4683), (51.1513, 71.4944), importance=0.8),
    street("Жеңіс даңғылы", (51.1900, 71.4100), (51.1742, 71.4115), (51.1600, 71.4130), importance=0.7),
    street("Жеңіс көшесі", (51.1380, 71.2140), (51.1376, 71.2150), importance=0.05),
    street("Абай даңғылы", (51.1668, 71.3900), (51.1668, 71.4137), (51.1668, 71.4400), importance=0.7),
    street("Сұңқар көшесі", (51.0880, 71.4300), NORTH_SUNKAR, (51.0900, 71.4310), importance=0.1),
    street("улица Сункар", (51.0320, 71.3920), SOUTH_SUNKAR, (51.0340, 71.3940), importance=0.1),
    street("Сарыарқа даңғылы", (51.1400, 71.4100), (51.1550, 71.4121), importance=0.7),
    street("улица Сарыагаш", (51.0335, 71.3935), (51.0340, 71.3945), importance=0.05),
    corner("Абылай Хан даңғылы", "Кенесары көшесі", 51.161053, 71.468287),
    corner("Абай даңғылы", "Жеңіс даңғылы", 51.166805, 71.413743),
    synonym("проспект Победы", "Жеңіс даңғылы"),
    # One street mapped under two names 1.3 km apart, each a synonym of the other.
    street("улица Туркестан", (51.1300, 71.4000), (51.1310, 71.4010), importance=0.01),
    street("Түркістан көшесі", (51.1400, 71.4100), (51.1410, 71.4110), importance=1),
    synonym("улица Туркестан", "Түркістан көшесі", "variant"),
    synonym("Түркістан көшесі", "улица Туркестан", "variant"),
]
KENESARY_ABYLAI = (51.161053, 71.468287)
ABAI_ZHENIS = (51.166805, 71.413743)


def write(path, entries, source="test-city"):
    doc = {"format": "dispatch-gazetteer/1", "source": source, "entries": entries}
    path.write_bytes(gzip.compress(json.dumps(doc, ensure_ascii=False).encode()))
    return path


@pytest.fixture
def city(db, tmp_path):
    return load_gazetteer_file(write(tmp_path / "city.json.gz", ENTRIES))


def top(q, **bias):
    results = geocode(q, **bias)
    assert results, f"nothing for {q!r}"
    return results[0]


def at(result, point, tol=0.002):
    return abs(result["lat"] - point[0]) < tol and abs(result["lon"] - point[1]) < tol


# --- Corners as callers say them (no database) ------------------------------------------------------

KENESARY, ABYLAI = "кенесары", "абылай хана"


@pytest.mark.parametrize(
    "query, pair",
    [
        # Russian
        ("Кенесары - Абылай хана", (KENESARY, ABYLAI)),
        ("Кенесары – Абылай хана", (KENESARY, ABYLAI)),
        ("Кенесары—Абылай хана", (KENESARY, ABYLAI)),
        ("Кенесары-Абылай хана", (KENESARY, ABYLAI)),
        ("Кенесары угол Абылай хана", (KENESARY, ABYLAI)),
        ("Кенесары, угол Абылай хана", (KENESARY, ABYLAI)),
        ("на пересечении улиц Кенесары и Абылай хана", (KENESARY, ABYLAI)),
        ("перекрёсток Кенесары и Абылай хана", (KENESARY, ABYLAI)),
        # Kazakh: the second street in the genitive, the corner word last
        ("Кенесары көшесі мен Абылай хан даңғылының қиылысы", ("кенесары көшесі", "абылай хан даңғылының")),
        ("Кенесары және Абылай хан қиылысы", (KENESARY, "абылай хан")),
        ("Кенесары/Абылай хан бұрышы", (KENESARY, "абылай хан")),
        # English
        ("corner of Kenesary and Abylai Khan", ("kenesary", "abylai khan")),
        ("intersection of Kenesary & Abylai Khan Avenue", ("kenesary", "abylai khan avenue")),
    ],
)
def test_corner_forms_in_russian_kazakh_and_english(query, pair):
    assert corner_candidates(query) == [pair]


def test_a_hyphen_inside_a_name_is_no_corner_when_the_name_is_short():
    assert corner_candidates("Әл-Фараби даңғылы") == []
    assert corner_candidates("улица E-429") == []


def test_kazakh_genitive_street_words_are_street_words():
    assert normalize("Абылай хан даңғылының") == normalize("Абылай хан даңғылы")
    assert normalize("Кенесары көшесінің") == normalize("Кенесары көшелерінің") == normalize("Кенесары")
    assert normalize("Қарқаралы тас жолының") == normalize("Қарқаралы тас жолы")


@pytest.mark.parametrize(
    "q",
    [
        "Кенесары - Абылай хана",
        "Кенесары-Абылай хана",
        "Кенесары угол Абылай хана",
        "Кенесары көшесі мен Абылай хан даңғылының қиылысы",
        "corner of Kenesary and Abylai Khan",
    ],
)
def test_each_corner_form_finds_the_intersection(city, q):
    best = top(q)
    assert best["kind"] == "intersection" and at(best, KENESARY_ABYLAI), best


# --- Synonyms ----------------------------------------------------------------------------------------


def test_a_russian_name_finds_the_street_signed_in_kazakh(city):
    best = top("проспект Победы")
    assert best["label"] == "Жеңіс даңғылы (проспект Победы)"
    assert at(best, (51.1742, 71.4115))  # the avenue, not Жеңіс көшесі across the city
    assert top("Победы")["label"] == "Жеңіс даңғылы (проспект Победы)"


def test_a_corner_said_with_the_synonym_finds_the_intersection(city):
    best = top("угол Победы и Абая")
    assert best["kind"] == "intersection" and at(best, ABAI_ZHENIS)


def test_the_street_under_its_own_name_comes_before_its_synonym(city):
    results = geocode("Жеңіс даңғылы")
    assert results[0]["label"] == "Жеңіс даңғылы"
    assert not any(r["label"].startswith("Жеңіс даңғылы (") for r in results)  # the same street, once


@pytest.mark.parametrize("q, label", [("Туркестан көшесі", "улица Туркестан"), ("улица Түркістан", "Түркістан көшесі")])
def test_a_street_under_its_own_name_beats_a_synonym_row_in_any_spelling(city, q, label):
    assert top(q)["label"] == label


def test_the_file_seeds_synonyms_once_and_keeps_the_admins_changes(city, tmp_path):
    assert city["counts"]["synonym"] == 3
    seeded = StreetSynonym.objects.get(name="проспект Победы")
    assert (seeded.street, seeded.kind, seeded.source, seeded.active) == ("Жеңіс даңғылы", "russian", "test-city", True)
    seeded.active = False
    seeded.save()
    load_gazetteer_file(write(tmp_path / "again.json.gz", ENTRIES))
    assert StreetSynonym.objects.count() == 3 and not StreetSynonym.objects.get(pk=seeded.pk).active
    assert all("Победы" not in r["label"] for r in geocode("проспект Победы"))


def test_synonym_rows_have_no_geometry_of_their_own(city):
    row = GazetteerEntry.objects.get(source="synonyms", normalized=normalize("проспект Победы"))
    assert row.geom is None and row.street_key == normalize("Жеңіс даңғылы")
    assert reverse_geocode(51.1742, 71.4116)["label"] == "Жеңіс даңғылы"


def test_a_synonym_added_in_the_admin_is_found_at_once(city, client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="pass-1234-word"))
    response = client.post(
        "/admin/calls/streetsynonym/add/",
        {
            "name": "улица Ленина",
            "street": "Абай даңғылы",
            "kind": "old",
            "source": "admin",
            "note": "",
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert top("улица Ленина")["label"] == "Абай даңғылы (улица Ленина)"
    pk = StreetSynonym.objects.get(name="улица Ленина").pk
    assert client.post(f"/admin/calls/streetsynonym/{pk}/delete/", {"post": "yes"}).status_code == 302
    assert all("(улица Ленина)" not in r["label"] for r in geocode("улица Ленина"))


def test_a_synonym_of_a_street_not_loaded_indexes_nothing(city):
    StreetSynonym.objects.create(name="улица Мира", street="Бейбітшілік көшесі")
    assert index_street_synonyms() == 3  # not улица Мира


# --- Bias toward the caller or the map view -------------------------------------------------------------


def test_text_alone_cannot_choose_between_twin_streets_but_the_aml_point_does(city):
    plain = top("Сункар")
    assert at(plain, SOUTH_SUNKAR) or at(plain, NORTH_SUNKAR)
    assert at(top("Сункар", near=(51.0880, 71.4280)), NORTH_SUNKAR)
    assert at(top("Сункар", near=(51.0350, 71.3900)), SOUTH_SUNKAR)


def test_the_map_view_picks_the_street_in_view(city):
    assert at(top("Сункар", view=(71.42, 51.08, 71.44, 51.10)), NORTH_SUNKAR)
    assert at(top("Сункар", view=(71.38, 51.02, 71.40, 51.04)), SOUTH_SUNKAR)


def test_the_bias_reorders_but_never_changes_scores_or_beats_a_better_match(city):
    plain = {r["label"]: r["score"] for r in geocode("Сункар")}
    biased = {r["label"]: r["score"] for r in geocode("Сункар", near=SOUTH_SUNKAR)}
    assert plain == biased
    # Standing on улица Сарыагаш, the operator who types Сарыарка means the avenue.
    assert top("Сарыарка", near=(51.0337, 71.3940))["label"] == "Сарыарқа даңғылы"


def test_the_bias_applies_to_corners_too(city):
    assert at(top("Кенесары и Абылай хана", near=(51.0, 71.0)), KENESARY_ABYLAI)


def test_intake_geocodes_the_address_toward_the_callers_aml_fix(city):
    phone = "+77011234567"
    # A cell fix near the northern street, too coarse to place the call by itself.
    AmlMessage.objects.create(msisdn=phone, raw="A\"ML=1;…", accepted=True, accuracy_m=2000,
                              location=Point(71.4280, 51.0880, srid=4326))  # fmt: skip
    north = new_call(lat=None, address="Сункар", caller_phone=phone)
    assert (north.location_source, north.location_accuracy_m) == ("address", 500.0)
    assert at({"lat": north.location.y, "lon": north.location.x}, NORTH_SUNKAR)

    AmlMessage.objects.create(msisdn="+77017654321", raw="A\"ML=1;…", accepted=True, accuracy_m=2000,
                              location=Point(71.3900, 51.0350, srid=4326))  # fmt: skip
    south = new_call(lat=None, address="Сункар", caller_phone="+77017654321")
    assert at({"lat": south.location.y, "lon": south.location.x}, SOUTH_SUNKAR)
    assert Call.objects.filter(aml_messages__isnull=False).count() == 2


# --- API -----------------------------------------------------------------------------------------------

GEOCODE = "/api/v1/geocode/"
geo_urls = pytest.mark.urls("tests.calls.geo_urls")


@geo_urls
def test_geocode_api_takes_near_and_bbox(city, operator_client):
    near = operator_client.get(GEOCODE, {"q": "Сункар", "near": "51.0880,71.4280"}).json()["results"]
    assert at(near[0], NORTH_SUNKAR)
    view = operator_client.get(GEOCODE, {"q": "Сункар", "bbox": "71.38,51.02,71.40,51.04"}).json()["results"]
    assert at(view[0], SOUTH_SUNKAR)


@geo_urls
@pytest.mark.parametrize(
    "params, field",
    [
        ({"near": "51.1"}, "near"),
        ({"near": "51.1,east"}, "near"),
        ({"near": "91,71.4"}, "near"),
        ({"near": "nan,71.4"}, "near"),
        ({"near": "51.1,71.4,300"}, "near"),
        ({"bbox": "71.3,51.0,71.6"}, "bbox"),
        ({"bbox": "71.6,51.0,71.3,51.2"}, "bbox"),
        ({"bbox": "71.3,51.2,71.6,51.0"}, "bbox"),
        ({"bbox": "71.3,51.0,inf,51.2"}, "bbox"),
    ],
)
def test_geocode_api_names_a_bad_bias_parameter(city, operator_client, params, field):
    response = operator_client.get(GEOCODE, {"q": "Сункар", **params})
    assert response.status_code == 400
    assert list(response.json()) == [field]
