"""The gazetteer: how operators' text is normalised, its file format, how it is searched.

Operators type the way callers speak: Russian or Kazakh street words in front of or after
the name (`улица X`, `X көшесі`, `пр. X`, `X даңғылы`), Kazakh letters typed on a Russian
keyboard (`Мангилик Ел`), the Russian genitive of a person's name (`Абылай хана`), and
corners (`угол X и Y`). `normalize()` folds all of that to one search key; the loader
stores that key in `GazetteerEntry.normalized` and the selectors apply the same function
to the query, so both sides always agree. The search itself is PostgreSQL's: pg_trgm
similarity on a GIN-indexed column, KNN (`<->`) on GiST-indexed geography.

This module imports no models, so that `calls/data/build_gazetteer.py` can use it without
a configured Django; loading a file into the table is `calls/gazetteer_load.py`.
"""

import gzip
import json
import math
import re
from pathlib import Path

from django.db import connection, transaction

__all__ = [
    "normalize",
    "split_street_name",
    "corner_candidates",
    "geocode",
    "bias_area",
    "reverse_geocode",
]

# --- Normalisation -----------------------------------------------------------------------

# Kazakh letters folded to what a Russian keyboard types for them. й→и and the dropped
# soft/hard signs are ours: transliterations and callers disagree on exactly those
# (`Кабанбай`/`Kabanbay`, `Аль-Фараби`/`Әл-Фараби`), and no two Astana streets differ by them.
_LETTER_FOLD = str.maketrans(
    {
        "ё": "е", "ә": "а", "ғ": "г", "қ": "к", "ң": "н", "ө": "о", "ұ": "у", "ү": "у",
        "һ": "х", "і": "и", "й": "и", "ь": None, "ъ": None,
        # Kazakh Latin alphabet (2021) letters, in case the query comes from a phone keyboard.
        "ä": "а", "ö": "о", "ü": "у", "ğ": "г", "ı": "ы", "ş": "ш", "ç": "ч", "ñ": "н", "ū": "у",
    }
)  # fmt: skip

# Latin → Cyrillic, so that `Khan Shatyr`, `Kabanbay Batyr Avenue` and OSM names that mix
# Latin and Cyrillic look-alikes (`E-429` / `Е-429`) land on the same key. Longest first.
_LATIN = {
    "shch": "щ", "sch": "щ", "kh": "х", "zh": "ж", "sh": "ш", "ch": "ч", "ts": "ц", "ya": "я",
    "yu": "ю", "yo": "е", "ye": "е", "ck": "к", "ph": "ф", "ee": "и", "oo": "у",
    "a": "а", "b": "б", "c": "ц", "d": "д", "e": "е", "f": "ф", "g": "г", "h": "х", "i": "и",
    "j": "ж", "k": "к", "l": "л", "m": "м", "n": "н", "o": "о", "p": "п", "q": "к", "r": "р",
    "s": "с", "t": "т", "u": "у", "v": "в", "w": "у", "x": "кс", "z": "з",
}  # fmt: skip
_LATIN_RE = re.compile("|".join(sorted((k for k in _LATIN), key=len, reverse=True)) + "|y")
_VOWELS = set("aeiouаеиоуыэюя")


def _latin_sub(match):
    s = match.group(0)
    if s != "y":
        return _LATIN[s]
    # `y` after a vowel is й (Kabanbay), otherwise ы (Shatyr).
    before = match.string[match.start() - 1] if match.start() else ""
    return "и" if before in _VOWELS else "ы"


def _fold(text):
    text = text.lower().translate(_LETTER_FOLD)
    return _LATIN_RE.sub(_latin_sub, text) if re.search(r"[a-z]", text) else text


# Abbreviations with inner punctuation, rewritten before punctuation is removed.
_COMPOUND_ABBREVIATIONS = [
    (re.compile(r"(?<!\w)пр-?к?т(?!\w)\.?"), " пр "),
    (re.compile(r"(?<!\w)б-р(?!\w)\.?"), " бр "),
    (re.compile(r"(?<!\w)пр-д(?!\w)\.?"), " проезд "),
    (re.compile(r"(?<!\w)(?:мкр-н|м-н)(?!\w)\.?"), " мкр "),
    (re.compile(r"(?<!\w)ш\s*/\s*а(?!\w)\.?"), " мкр "),
]
# `101-я улица`, `39-шы көше`: an ordinal ending glued to a number says nothing.
_ORDINAL = re.compile(r"(\d)(?:\s*-\s*|)(?:ая|ыи|ои|ии|ые|я|и|шы|ши|ыншы|инши|нши)(?!\w)")
_PUNCT = re.compile(r"[\W_]+")

# Street words, canonical code → the ways people write it (Russian, Kazakh, English).
_STREET_WORDS = {
    # Kazakh also in the genitive and plural a corner puts them in (`X көшесі мен Y
    # даңғылының қиылысы`, `X пен Y көшелерінің қиылысы`).
    "ул": ["улица", "ул", "улицы", "улиц", "көшесі", "көше", "көш", "көшесінің", "көшелері", "көшелерінің",
           "көшесіндегі", "street", "st", "str", "ulitsa", "koshesi"],
    "пр": ["проспект", "пр", "просп", "пркт", "прт", "проспектов", "даңғылы", "даңғ", "даң", "даңғылының",
           "даңғылдары", "даңғылдарының", "даңғылындағы", "avenue", "ave", "prospekt", "prospect", "dangyly"],
    "пер": ["переулок", "пер", "тұйығы", "тұйық", "тұйығының", "lane", "pereulok"],
    "туп": ["тупик", "туп"],  # Astana has `переулок X` and `тупик X` side by side
    "ш": ["шоссе", "ш", "трасса", "highway", "shosse"],
    "бр": ["бульвар", "бр", "бул", "бульвары", "бульварының", "boulevard", "blvd"],
    "пл": ["площадь", "пл", "алаңы", "алаң", "алаңының", "square", "sq"],
    "мкр": ["микрорайон", "мкр", "мкрн", "мн", "microdistrict"],
    "наб": ["набережная", "наб", "жағалауы"],
    "проезд": ["проезд"],
    "аллея": ["аллея", "аллеясы", "alley"],
}  # fmt: skip
_STREET_PHRASES = {"ш": ["тас жолы", "тас жолының"], "мкр": ["шағын ауданы", "шағын аудан", "шағын ауданының"]}
_WORD_TYPE = {_fold(w): code for code, words in _STREET_WORDS.items() for w in words}
_PHRASE_TYPE = [(tuple(_fold(p).split()), code) for code, ps in _STREET_PHRASES.items() for p in ps]

# Russian puts names in the genitive (`улица Абая`, `проспект Республики`, `Абылай хана`)
# where Kazakh and the signs keep the nominative (`Абай`, `Республика`, `Абылай хан`). A
# word of four letters or more loses one final vowel on both sides, which makes most such
# pairs equal (`абая`/`абаи` → `аба`, `сеифуллина`/`сеифуллин` → `сеифуллин`).
_FINAL_VOWEL = re.compile(r"(?<=\w{3})[аяыиеуо]$")
_TITLE_STEMS = {"бия": "би"}


def _stem(token):
    return _TITLE_STEMS.get(token) or _FINAL_VOWEL.sub("", token)


def _tokens(text):
    text = _fold(text)
    for pattern, repl in _COMPOUND_ABBREVIATIONS:
        text = pattern.sub(repl, text)
    text = _ORDINAL.sub(r"\1", text)
    return _PUNCT.sub(" ", text).split()


def split_street_name(text):
    """(search key, canonical street word or ""): `пр. Кабанбай батыра` → ("кабанба батыр", "пр")."""
    tokens = _tokens(text)
    found = []  # street words, in order
    kept = []
    i = 0
    while i < len(tokens):
        for phrase, code in _PHRASE_TYPE:
            if tuple(tokens[i : i + len(phrase)]) == phrase:
                found.append(code)
                i += len(phrase)
                break
        else:
            code = _WORD_TYPE.get(tokens[i])
            if code:
                found.append(code)
            else:
                kept.append(_stem(tokens[i]))
            i += 1
    if not kept:
        # The name is only street words (`Набережная`, `улица Набережная`): keep the last one.
        return (_stem(tokens[-1]) if tokens else ""), (found[0] if len(tokens) > 1 else "")
    street_type = found[0] if found else ""
    if all(t.isdigit() for t in kept):
        # `улица 2-й микрорайон` is not `2 улица`: a number alone keeps its street words
        # (but the default `улица`), in a fixed order so that `микрорайон улица 2` finds it too.
        kept += sorted(set(found) - {"ул"})
    return " ".join(kept), street_type


def normalize(text):
    """The search key: lower case, Kazakh letters folded, street words and punctuation gone."""
    return split_street_name(text or "")[0]


# --- Corners -------------------------------------------------------------------------------

# How callers name a corner (SPEC: `Кенесары и Абылай хана`, `угол Кенесары / Абылай Хан`):
# a word in front (Russian, English), a word after (Kazakh), and between the two streets a
# conjunction, a slash, a comma, a spaced dash, or `угол` itself (`Кенесары угол Абылай хана`).
_CORNER_PREFIX = re.compile(
    r"^\s*(?:(?:на|с|от)\s+)?(?:угол|угла|углу|уг\.|пересечение|пересечении|перекресток|перекрёсток|перекрестке"
    r"|перекрёстке|перекрестка|перекрёстка)(?:\s+(?:улиц|ул\.?|проспектов|пр\.?))?\s+"
    r"|^\s*(?:(?:at|on)\s+)?(?:the\s+)?(?:corner|intersection|crossing|junction)\s+of\s+"
)
_CORNER_SUFFIX = re.compile(
    r"(?:\s+|^)(?:қиылысы|қиылысында|қиылысындағы|киылысы|киылысында|бұрышы|бұрышында|бурышы|бурышында)\s*$"
)
_CORNER_SEPARATOR = re.compile(
    r"\s*(?:[/\\&+,;×]|\s[-‐–—]+\s|[–—])\s*(?:(?:угол|уг\.)\s+)?"
    r"|\s(?:и|мен|пен|бен|және|жане|and|угол|уг\.)\s"
)
# `Кенесары-Абылай хана`: a hyphen between two words is tried only when nothing else splits
# the text, since many names carry one (`Әл-Фараби`, `Карашаш-хана`).
_CORNER_HYPHEN = re.compile(r"(?<=[^\W\d_]{3})-(?=[^\W\d_]{3})")


def corner_candidates(query):
    """The ways `query` splits into two street names: `угол X и Y` → [(X, Y)], raw text.

    Every separator is tried, because `и` may also belong to a name; the database decides
    which split names two streets that really cross.
    """
    text = _CORNER_SUFFIX.sub("", _CORNER_PREFIX.sub("", query.lower()))

    def splits(separator):
        pairs = []
        for match in separator.finditer(text):
            left, right = text[: match.start()], text[match.end() :]
            if normalize(left) and normalize(right):
                pairs.append((left.strip(" ,"), right.strip(" ,")))
        return pairs

    return (splits(_CORNER_SEPARATOR) or splits(_CORNER_HYPHEN))[:4]


# --- The file format -----------------------------------------------------------------------

FORMAT = "dispatch-gazetteer/1"
TABLE = "calls_gazetteerentry"


def read_gazetteer_file(path):
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return json.load(fh)


def importance_from_length(length_m):
    """0..1: a 15 km avenue is 1, a 100 m lane about 0.04; ranks otherwise equal matches."""
    return round(min(1.0, math.log1p(length_m / 1000) / math.log1p(15)), 3)


def places_from_geojson(collection):
    """Gazetteer entries from a GeoJSON FeatureCollection of named places (any geometry).

    Each feature gives a `place` under its name and, when it has a street address, an
    `address` at the same point. Other properties (such as `image_link`) are ignored.
    """
    from django.contrib.gis.geos import GEOSGeometry

    entries = []
    for feature in collection.get("features", []):
        props = feature.get("properties") or {}
        name = (props.get("name") or "").strip()
        if not name or not feature.get("geometry"):
            continue
        geom = GEOSGeometry(json.dumps(feature["geometry"]), srid=4326)
        point = geom if geom.geom_type == "Point" else geom.point_on_surface
        lat, lon = round(point.y, 6), round(point.x, 6)
        aliases = [props[k].strip() for k in ("name:ru", "name:kk", "name:en", "alt_name") if props.get(k)]
        entries.append({"kind": "place", "label": name, "names": [name, *aliases], "lat": lat, "lon": lon})
        street = (props.get("addr_street") or props.get("addr:street") or "").strip()
        number = (props.get("addr_housenumber") or props.get("addr:housenumber") or "").strip()
        if street and number:
            entries.append({"kind": "address", "label": f"{street} {number} ({name})", "names": [f"{street} {number}"],
                            "lat": lat, "lon": lon})  # fmt: skip
    return entries


# --- Selectors ----------------------------------------------------------------------------

# Below this a trigram match is noise (`%` and `%>` use the same numbers in the index scan).
SIMILARITY_THRESHOLD = 0.3
WORD_SIMILARITY_THRESHOLD = 0.6
TYPE_BONUS = 0.08  # the query said `проспект` and this is a проспект
# Among equal keys, the entry written the way the operator typed it, street word and all:
# `улица Сункар` and `Сұңқар көшесі` are two streets 6.7 km apart with one key. Kazakh
# letters are folded on both sides first, since a Russian keyboard cannot type them.
SPELLING_WEIGHT = 0.1
_KAZAKH_LETTERS, _RUSSIAN_KEYS = "әғқңөұүһіӘҒҚҢӨҰҮҺІ", "агкноуухиАГКНОУУХИ"
_SPELLING = str.maketrans(_KAZAKH_LETTERS, _RUSSIAN_KEYS)
IMPORTANCE_WEIGHT = 0.05  # among equal matches, the long avenue before the lane
# A row found through a street synonym (StreetSynonym) never outranks a street that matches
# as well under its own name: the data pairs `улица Туркестан` with `Түркістан көшесі`, and
# the query `Туркестан көшесі` means the first, whatever the labels' spelling or length.
SYNONYM_PENALTY = SPELLING_WEIGHT + IMPORTANCE_WEIGHT


def _tie_breaks(alias=""):
    """The SQL for the small terms that order otherwise equal matches."""
    spelled = f"translate({alias}label, '{_KAZAKH_LETTERS}', '{_RUSSIAN_KEYS}')"
    return f"{IMPORTANCE_WEIGHT} * {alias}importance + {SPELLING_WEIGHT} * similarity({spelled}, %(raw)s)"


def _match(param):
    """How well the key matches, 0..1 (+ the street-word bonus): whole-key or query-inside-key similarity."""
    return (
        f"GREATEST(similarity(normalized, %({param})s), 0.9 * word_similarity(%({param})s, normalized))"
        f" + CASE WHEN %({param}_t)s <> '' AND street_type = %({param}_t)s THEN {TYPE_BONUS} ELSE 0 END"
    )


# The bias toward where the caller probably is (the AML point, the operator's map view),
# for text that fits several places: up to BIAS_WEIGHT, halved BIAS_HALF_M from the point
# or outside the view, and equal for everything inside the view. It only reorders: large
# enough to choose between equal matches (`улица Сункар` / `Сұңқар көшесі`, 6.7 km apart),
# too small to put a poor match before a good one. The distance is to the street's line.
BIAS_WEIGHT = 0.15
BIAS_HALF_M = 1000


def _bias(alias=""):
    where = f"COALESCE({alias}geom, {alias}location)"
    return f"{BIAS_WEIGHT} * {BIAS_HALF_M} / ({BIAS_HALF_M} + ST_Distance({where}, b.g))"


def _name_sql(biased):
    rank = f"score + {_bias()}" if biased else "score"
    return f"""
WITH b AS (SELECT ST_GeogFromText(%(bias)s) AS g)
SELECT id, kind, label, lat, lon, score, {rank} AS rank FROM (
    SELECT id, kind, label, ST_Y(location::geometry) AS lat, ST_X(location::geometry) AS lon, geom, location,
           {_match("q")} + {_tie_breaks()}
           - CASE WHEN street_key <> '' THEN {SYNONYM_PENALTY} ELSE 0 END AS score
    FROM {TABLE}
    WHERE kind <> 'intersection' AND (normalized %% %(q)s OR normalized %%> %(q)s)
) m, b
ORDER BY rank DESC, id
LIMIT %(limit)s
"""


# Both halves of a corner are looked up as streets first (indexed trigram search), then the
# intersections of those streets by their exact keys (b-tree), in either order. A street
# found through a synonym stands for the street it names (`street_key`).
_SIDE = f"""
SELECT COALESCE(NULLIF(street_key, ''), normalized) AS key, max({{match}}) AS s
FROM {TABLE}
WHERE kind <> 'intersection' AND kind = 'street' AND (normalized %% %({{p}})s OR normalized %%> %({{p}})s)
GROUP BY 1 ORDER BY s DESC LIMIT 12
"""
_CORNER_BRANCH = f"""
SELECT e.id, e.kind, e.label, ST_Y(e.location::geometry), ST_X(e.location::geometry),
       (x.s + y.s) / 2 + 0.02 + {_tie_breaks("e.")} AS score, {{rank}} AS rank
FROM {TABLE} e JOIN x ON e.{{first}} = x.key JOIN y ON e.{{second}} = y.key, b
WHERE e.kind = 'intersection'
"""


def _corner_sql(biased):
    branch = {"rank": f"(x.s + y.s) / 2 + 0.02 + {_tie_breaks('e.')}" + (f" + {_bias('e.')}" if biased else "")}
    return f"""
WITH x AS ({_SIDE.format(p="x", match=_match("x"))}), y AS ({_SIDE.format(p="y", match=_match("y"))}),
     b AS (SELECT ST_GeogFromText(%(bias)s) AS g)
{_CORNER_BRANCH.format(first="street_a", second="street_b", **branch)}
UNION ALL
{_CORNER_BRANCH.format(first="street_b", second="street_a", **branch)}
ORDER BY rank DESC, id
LIMIT %(limit)s
"""


_NAME_SQL = {biased: _name_sql(biased) for biased in (False, True)}
_CORNER_SQL = {biased: _corner_sql(biased) for biased in (False, True)}


def bias_area(near=None, view=None):
    """The EWKT the bias is measured from: the point `near` (lat, lon), else the rectangle
    `view` (minlon, minlat, maxlon, maxlat), else None."""
    if near is not None:
        lat, lon = near
        return f"SRID=4326;POINT({float(lon)!r} {float(lat)!r})"
    if view is not None:
        w, s, e, n = (float(v) for v in view)
        return f"SRID=4326;POLYGON(({w!r} {s!r},{e!r} {s!r},{e!r} {n!r},{w!r} {n!r},{w!r} {s!r}))"
    return None


def _set_search_settings(cursor):
    # Local to geocode()'s own (rolled back) transaction or savepoint. The
    # planner prices a trigram test like a plain comparison and, on a table this small,
    # picks a sequential scan that runs `%>` on every row (~10 ms instead of ~1 ms).
    cursor.execute(
        "SELECT set_config('pg_trgm.similarity_threshold', %s, true),"
        " set_config('pg_trgm.word_similarity_threshold', %s, true),"
        " set_config('enable_seqscan', 'off', true)",
        [str(SIMILARITY_THRESHOLD), str(WORD_SIMILARITY_THRESHOLD)],
    )


def geocode(q, limit=10, near=None, view=None):
    """Gazetteer matches for an operator's text, best first: [{label, kind, lat, lon, score}].

    `near` (lat, lon: the caller's AML point) or `view` (minlon, minlat, maxlon, maxlat: the
    operator's map) breaks ties between places the text fits equally, see BIAS_WEIGHT. The
    order then weighs the distance; `score` stays the text match alone, so thresholds on it
    (calls.services.GEOCODE_MIN_SCORE) mean the same with or without a bias.
    """
    q = (q or "").strip()
    key, street_type = split_street_name(q)
    if not key:
        return []
    spelling = q.translate(_SPELLING)
    bias = bias_area(near, view)
    biased = bias is not None
    found = []
    with transaction.atomic(), connection.cursor() as cursor:
        _set_search_settings(cursor)
        params = {"q": key, "q_t": street_type, "raw": spelling, "limit": limit, "bias": bias}
        cursor.execute(_NAME_SQL[biased], params)
        found.extend(cursor.fetchall())
        for x, y in corner_candidates(q):
            (xk, xt), (yk, yt) = split_street_name(x), split_street_name(y)
            params = {"x": xk, "x_t": xt, "y": yk, "y_t": yt, "raw": spelling, "limit": limit, "bias": bias}
            cursor.execute(_CORNER_SQL[biased], params)
            found.extend(cursor.fetchall())
        # Only reads happened: rolling back (a savepoint, inside a caller's transaction) is
        # what ends the local settings before the caller's next query.
        transaction.set_rollback(True)
    found.sort(key=lambda r: (-r[6], r[0]))
    results, seen = [], set()
    for _id, kind, label, lat, lon, score, _rank in found:
        # The same thing reached twice (two name variants, two splits of a corner, a street
        # and one of its synonyms, which shares its point).
        same = {(label, round(lat, 3), round(lon, 3)), (kind, round(lat, 5), round(lon, 5))}
        if same & seen:
            continue
        seen |= same
        results.append({"label": label, "kind": kind, "lat": round(lat, 6), "lon": round(lon, 6),
                        "score": round(float(score), 3)})  # fmt: skip
        if len(results) >= limit:
            break
    return results


REVERSE_INTERSECTION_M = 60  # closer than this to a corner, the corner is the best label
REVERSE_PLACE_M = 80
REVERSE_MAX_M = 300  # farther than this from any street there is nothing useful to say

_REVERSE_SQL = f"""
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography AS g)
(SELECT e.kind, e.label, ST_Y(e.location::geometry), ST_X(e.location::geometry), ST_Distance(e.location, p.g)
 FROM {TABLE} e, p WHERE e.kind = 'intersection' AND ST_DWithin(e.location, p.g, %(max)s)
 ORDER BY e.location <-> p.g LIMIT 1)
UNION ALL
(SELECT e.kind, e.label, ST_Y(e.location::geometry), ST_X(e.location::geometry), ST_Distance(e.location, p.g)
 FROM {TABLE} e, p WHERE e.kind IN ('place', 'address') AND ST_DWithin(e.location, p.g, %(max)s)
 ORDER BY e.location <-> p.g LIMIT 1)
UNION ALL
(SELECT e.kind, e.label,
        ST_Y(ST_ClosestPoint(e.geom::geometry, p.g::geometry)), ST_X(ST_ClosestPoint(e.geom::geometry, p.g::geometry)),
        ST_Distance(e.geom, p.g)
 FROM {TABLE} e, p WHERE e.kind = 'street' AND ST_DWithin(e.geom, p.g, %(max)s)
 ORDER BY e.geom <-> p.g LIMIT 1)
"""


def reverse_geocode(lat, lon):
    """The label an operator would say for a point, or None when nothing is within 300 m.

    A corner when the point is within 60 m of one, else a named place within 80 m, else
    the nearest street (with the nearest point on it), else whatever is nearest.
    """
    with connection.cursor() as cursor:
        cursor.execute(_REVERSE_SQL, {"lat": float(lat), "lon": float(lon), "max": REVERSE_MAX_M})
        nearest = {}
        for kind, label, plat, plon, dist in cursor.fetchall():
            nearest["place" if kind == "address" else kind] = {
                "label": label, "kind": kind, "lat": round(plat, 6), "lon": round(plon, 6),
                "distance_m": round(dist, 1),
            }  # fmt: skip
    corner, place, street = nearest.get("intersection"), nearest.get("place"), nearest.get("street")
    if corner and corner["distance_m"] <= REVERSE_INTERSECTION_M:
        return corner
    if place and place["distance_m"] <= REVERSE_PLACE_M:
        return place
    if street:
        return street
    return min(nearest.values(), key=lambda r: r["distance_m"], default=None)
