"""Build `astana_gazetteer.json.gz` from the OpenStreetMap extracts described in README.md.

    .venv/bin/python calls/data/build_gazetteer.py

reads the repository's `data/astana_streets.json.gz`, `data/astana_intersections.json.gz`
and `data/malls.geojson.gz` (other files may be named: `STREETS INTERSECTIONS [PLACES …]`,
`.gz` or plain) and writes `calls/data/astana_gazetteer.json.gz` (`--out`).

Streets: the source lists each street as the points of all its OSM ways concatenated
(shared points dropped), so a jump longer than SPLIT_GAP_M between consecutive points is a
jump to the next way, not a road; the street is cut there into separate lines.
Intersections: the source lists, per street, the points where it meets another road;
points whose other road has no name are dropped, the rest are grouped by the pair of
streets (compared by their search keys, so `Абылай Хан даңғылы` and `проспект Абылай Хана`
are one street) and clustered within CLUSTER_M, so that a dual carriageway crossing is one
corner. Each corner is placed on its most central real crossing point.
Places: named features of a GeoJSON FeatureCollection; other properties are dropped.
Synonyms: the extract carries only OSM's `name` (no `name:ru`, `name:kk`, `old_name` or
`alt_name`), but many streets are mapped as several ways, some named in Kazakh and some in
Russian (`Ілияс Жансүгіров көшесі` / `улица Илияс Жансугурова`). Two names are taken as one
street when their ways meet (a point of each within TOUCH_M), they carry the same street
word, no number, and every word of the shorter name but the titles (`батыр`, `акын` …)
is close to one of the longer (difflib ratio >= NAME_RATIO, SHORT_WORD_RATIO for words
under 7 letters, after folding the letters Russian renders Kazakh sounds with: `Бұқар` /
`Бухар`, `Қонаев` / `Кунаев`). Each such pair gives two synonyms (each name for the other
street), plus the few TRANSLATIONS below.

Needs only the standard library plus this project's `calls.gazetteer` (for `normalize`;
GEOS for the places step only, imported there).
"""

import argparse
import difflib
import gzip
import hashlib
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from calls.gazetteer import (  # noqa: E402
    FORMAT,
    importance_from_length,
    normalize,
    places_from_geojson,
    split_street_name,
)

SOURCE = "osm-astana"
ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0 (https://www.openstreetmap.org/copyright)"
SPLIT_GAP_M = 350
CLUSTER_M = 100
TOUCH_M = 40
NAME_RATIO = 0.8
SHORT_WORD_RATIO = 0.9  # `Колсай` and `Коксай` are two lakes, two streets
_SOUND_FOLD = str.maketrans("хуы", "кои")
# Search-key forms of the words that say who a street is named after, not which street it is.
TITLES = {"батыр", "акын", "жыра", "ана", "ата", "хан", "би", "кажы", "апа", "ага"}
# Russian names of streets the data names only in Kazakh: a translation of the Kazakh word
# (the data holds no `name:ru`), for the avenues callers name that way. (name, street).
TRANSLATIONS = [
    ("проспект Победы", "Жеңіс даңғылы"),
    ("проспект Независимости", "Тәуелсіздік даңғылы"),
    ("улица Дружбы", "Достық көшесі"),
]
_M_PER_DEG = 111_320.0
_COS = math.cos(math.radians(51.15))  # Astana; equirectangular metres are exact enough at city scale


def _xy(lat, lon):
    return lon * _M_PER_DEG * _COS, lat * _M_PER_DEG


def _dist(a, b):
    (ax, ay), (bx, by) = _xy(*a), _xy(*b)
    return math.hypot(ax - bx, ay - by)


def read_bytes(path):
    """The file's bytes, uncompressed when it is a `.gz` (the repository ships the sources gzipped)."""
    raw = Path(path).read_bytes()
    return gzip.decompress(raw) if str(path).endswith(".gz") else raw


def read_json(path):
    return json.loads(read_bytes(path).decode("utf-8"))


def street_lines(points):
    """Cut the point list into lines at jumps longer than SPLIT_GAP_M."""
    lines, current = [], [points[0]]
    for p in points[1:]:
        if _dist(current[-1], p) > SPLIT_GAP_M:
            lines.append(current)
            current = []
        current.append(p)
    lines.append(current)
    return lines


def representative_point(lines):
    """The street's point (an OSM node) nearest its length-weighted centroid; (point, length in metres).

    A node rather than the exact nearest point on a segment, so the answer is a real point
    of the street that anyone can check against the source.
    """
    segments = [(a, b) for line in lines for a, b in zip(line, line[1:])]
    total = sum(_dist(a, b) for a, b in segments)
    if total == 0:
        return lines[0][0], 0.0
    clat = sum((a[0] + b[0]) / 2 * _dist(a, b) for a, b in segments) / total
    clon = sum((a[1] + b[1]) / 2 * _dist(a, b) for a, b in segments) / total
    return min((p for line in lines for p in line), key=lambda p: _dist(p, (clat, clon))), total


def build_streets(path):
    data = read_json(path)
    entries, length_by_name = [], {}
    for street in data["streets"]:
        name = street["name"].strip()
        points = [(p["lat"], p["lng"]) for p in street["points"]]
        if not name or not normalize(name) or not points:
            continue
        lines = street_lines(points)
        (lat, lon), length = representative_point(lines)
        length_by_name[name] = length
        entries.append({
            "kind": "street", "label": name, "lat": round(lat, 6), "lon": round(lon, 6),
            "importance": importance_from_length(length), "length_m": round(length),
            "lines": [[[p[1], p[0]] for p in line] for line in lines],
        })  # fmt: skip
    return entries, length_by_name


def build_intersections(path, length_by_name):
    data = read_json(path)
    by_pair = {}  # (key_a, key_b) → {"points": set, "names": {key: {name: length}}}
    for street, crossings in data.items():
        for c in crossings:
            other = c["crossroad"].strip()
            if not street.strip() or not other or street not in length_by_name or other not in length_by_name:
                continue
            ka, kb = normalize(street), normalize(other)
            if ka == kb:
                continue  # one street whose name changes here
            pair = tuple(sorted((ka, kb)))
            group = by_pair.setdefault(pair, {"points": set(), "names": {}})
            group["points"].add((c["lat"], c["lng"]))
            group["names"].setdefault(ka, {})[street] = length_by_name[street]
            group["names"].setdefault(kb, {})[other] = length_by_name[other]
    entries = []
    for pair, group in sorted(by_pair.items()):
        # The longest street among a key's names gives the label: the avenue, not its stub.
        names = [max(group["names"][k].items(), key=lambda kv: (kv[1], kv[0]))[0] for k in pair]
        lengths = [group["names"][k][n] for k, n in zip(pair, names)]
        importance = (importance_from_length(lengths[0]) + importance_from_length(lengths[1])) / 2
        for cluster in _clusters(sorted(group["points"])):
            clat = sum(p[0] for p in cluster) / len(cluster)
            clon = sum(p[1] for p in cluster) / len(cluster)
            lat, lon = min(cluster, key=lambda p: _dist(p, (clat, clon)))
            entries.append({
                "kind": "intersection", "label": f"{names[0]} / {names[1]}", "streets": names,
                "lat": lat, "lon": lon, "importance": round(importance, 3),
                # every crossing point of the cluster, for accuracy benchmarks
                "points": [[p[1], p[0]] for p in cluster] if len(cluster) > 1 else None,
            })  # fmt: skip
    return entries


def _clusters(points):
    """Greedy: a point joins the first cluster whose first point is within CLUSTER_M."""
    clusters = []
    for p in points:
        for cluster in clusters:
            if _dist(cluster[0], p) <= CLUSTER_M:
                cluster.append(p)
                break
        else:
            clusters.append([p])
    return clusters


def _same_name(a, b):
    """Two names of one person/thing, by the rule in the module docstring (keys compared)."""
    (ka, ta), (kb, tb) = split_street_name(a), split_street_name(b)
    if ka == kb or (ta or "ул") != (tb or "ул") or any(c.isdigit() for c in ka + kb):
        return False
    wa, wb = [w for w in ka.split() if w not in TITLES], [w for w in kb.split() if w not in TITLES]
    short, long = sorted((wa, wb), key=len)
    if not short:
        return False

    def close(w, o):
        w, o = w.translate(_SOUND_FOLD), o.translate(_SOUND_FOLD)
        return difflib.SequenceMatcher(None, w, o).ratio() >= (
            SHORT_WORD_RATIO if min(len(w), len(o)) < 7 else NAME_RATIO
        )

    return all(any(close(w, o) for o in long) for w in short)


def build_synonyms(path, known):
    """Synonym entries: pairs of names whose ways meet and that name one street, both ways;
    then TRANSLATIONS whose street is in the data. `known` is the set of street names built."""
    data = read_json(path)
    cells = {}  # a TOUCH_M grid: names with a point in each cell
    for street in data["streets"]:
        name = street["name"].strip()
        if name not in known:
            continue
        for p in street["points"]:
            x, y = _xy(p["lat"], p["lng"])
            cells.setdefault((int(x // TOUCH_M), int(y // TOUCH_M)), set()).add(name)
    pairs = set()
    for (cx, cy), names in cells.items():
        near = set().union(*(cells.get((cx + dx, cy + dy), ()) for dx in (-1, 0, 1) for dy in (-1, 0, 1)))
        for a in names:
            pairs.update(tuple(sorted((a, b))) for b in near if a < b or b < a)
    entries = []
    for a, b in sorted(p for p in pairs if _same_name(*p)):
        note = "the data names the street's ways both ways"
        entries.append({"kind": "synonym", "name": a, "street": b, "synonym_kind": "variant", "note": note})
        entries.append({"kind": "synonym", "name": b, "street": a, "synonym_kind": "variant", "note": note})
    for name, street in TRANSLATIONS:
        if street in known:
            entries.append({"kind": "synonym", "name": name, "street": street, "synonym_kind": "russian",
                            "note": "translation of the Kazakh name"})  # fmt: skip
    return entries


def build_places(path):
    return places_from_geojson(read_json(path))


def sha256(path):
    """Of the uncompressed bytes: the sums `data/SOURCES.md` records."""
    return hashlib.sha256(read_bytes(path)).hexdigest()


def source_name(path):
    return Path(path).name.removesuffix(".gz")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    data = ROOT / "data"
    parser.add_argument("streets", nargs="?", default=data / "astana_streets.json.gz")
    parser.add_argument("intersections", nargs="?", default=data / "astana_intersections.json.gz")
    parser.add_argument("places", nargs="*", help="GeoJSON FeatureCollections of named places (default: the malls)")
    parser.add_argument("--out", default=ROOT / "calls" / "data" / "astana_gazetteer.json.gz")
    args = parser.parse_args(argv)
    args.places = args.places or [data / "malls.geojson.gz"]

    streets, lengths = build_streets(args.streets)
    intersections = build_intersections(args.intersections, lengths)
    places = [e for path in args.places for e in build_places(path)]
    synonyms = build_synonyms(args.streets, set(lengths))
    for e in intersections:
        if e["points"] is None:
            del e["points"]
    doc = {
        "format": FORMAT,
        "source": SOURCE,
        "attribution": ATTRIBUTION,
        "license": "ODbL-1.0",
        "derived_from": {source_name(p): sha256(p) for p in [args.streets, args.intersections, *args.places]},
        "entries": streets + intersections + places + synonyms,
    }
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    # mtime=0: the same inputs give a byte-identical file
    with open(args.out, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw)
    print(f"{args.out}: {len(streets)} streets, {len(intersections)} intersections, {len(places)} places/addresses, "
          f"{len(synonyms)} synonyms, {Path(args.out).stat().st_size:,} bytes")  # fmt: skip


if __name__ == "__main__":
    main()
