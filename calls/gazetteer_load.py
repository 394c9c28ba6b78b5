"""Loading gazetteer files into `GazetteerEntry` rows, replacing an earlier load of the same
source, and indexing the street synonyms. The format, the search keys and the search are in
`calls/gazetteer.py`."""

from pathlib import Path

from django.contrib.gis.geos import LineString, MultiLineString, Point
from django.db import connection, transaction

from .gazetteer import FORMAT, TABLE, normalize, places_from_geojson, read_gazetteer_file, split_street_name
from .geo_models import GazetteerEntry, StreetSynonym

SYNONYM_SOURCE = "synonyms"  # the GazetteerEntry rows index_street_synonyms() writes


def _rows_from_entries(entries, source):
    rows = []
    for e in entries:
        kind = e["kind"]
        if kind == "synonym":
            continue  # seeded into StreetSynonym, see _seed_synonyms
        if kind not in GazetteerEntry.Kind.values:
            raise ValueError(f"unknown gazetteer kind {kind!r}")
        location = Point(float(e["lon"]), float(e["lat"]), srid=4326)
        common = {"kind": kind, "source": source, "label": e["label"][:300], "location": location,
                  "importance": float(e.get("importance", 0.5 if kind == "place" else 0.2))}  # fmt: skip
        if kind == "intersection":
            a, b = (normalize(s) for s in e["streets"])
            if not a or not b or a == b:
                continue  # two names of one street meeting where the name changes
            a, b = sorted((a, b))
            rows.append(GazetteerEntry(**common, normalized=f"{a} {b}", street_a=a, street_b=b))
            continue
        geom = None
        lines = [LineString(line, srid=4326) for line in e.get("lines") or () if len(line) >= 2]
        if lines:
            geom = MultiLineString(*lines, srid=4326)
        seen = set()
        for name in e.get("names") or [e["label"]]:
            key, street_type = split_street_name(name)
            if key and key not in seen:
                seen.add(key)
                rows.append(GazetteerEntry(**common, normalized=key, street_type=street_type, geom=geom))
    return rows


def load_gazetteer_file(path, source=None):
    """Load a gazetteer file, replacing whatever an earlier load of the same source left.

    Accepts this project's format (`calls/data/build_gazetteer.py`, .json or .json.gz) and
    a GeoJSON FeatureCollection of named places. The source is the file's own `source`
    field, else the file name; pass `source` to override. Returns {kind: rows}.
    """
    data = read_gazetteer_file(path)
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        entries = places_from_geojson(data)
    elif isinstance(data, dict) and data.get("format") == FORMAT:
        entries = data["entries"]
    else:
        raise ValueError(f"{path}: neither a {FORMAT} file nor a GeoJSON FeatureCollection")
    stem = Path(path).name.split(".")[0]
    source = (source or (data.get("source") if isinstance(data.get("source"), str) else None) or stem)[:64]
    rows = _rows_from_entries(entries, source)
    synonyms = [e for e in entries if e["kind"] == "synonym"]
    with transaction.atomic():
        GazetteerEntry.objects.filter(source=source).delete()
        GazetteerEntry.objects.bulk_create(rows, batch_size=2000)
        _seed_synonyms(synonyms, source)
        # The streets a synonym names may have just been replaced, or appeared.
        index_street_synonyms(analyze=False)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")  # fresh statistics for the planner after a bulk change
    counts = {}
    for row in rows:
        counts[row.kind] = counts.get(row.kind, 0) + 1
    if synonyms:
        counts["synonym"] = len(synonyms)
    return {"source": source, "counts": counts}


def _seed_synonyms(entries, source):
    """Add the file's synonyms that are missing; leave existing rows (an admin's edits) alone."""
    existing = set(StreetSynonym.objects.values_list("name", "street"))
    StreetSynonym.objects.bulk_create(
        [
            StreetSynonym(name=e["name"][:200], street=e["street"][:300], source=source[:64],
                          kind=e.get("synonym_kind") or StreetSynonym.Kind.VARIANT, note=(e.get("note") or "")[:300])
            for e in entries
            if (e["name"][:200], e["street"][:300]) not in existing
        ],
        ignore_conflicts=True,
    )  # fmt: skip


def index_street_synonyms(analyze=True):
    """Rebuild the gazetteer rows that make the active synonyms searchable; returns their count.

    One row per (synonym, street row it names): the synonym's key and street word, the
    street's point and importance, `street_key` = the street's key (corners go through it),
    no geometry (reverse geocoding and the basemap use the street's own row), and a label
    that says both names, `Жеңіс даңғылы (проспект Победы)`. A synonym whose street is not
    in the gazetteer indexes nothing until a load brings the street.
    """
    rows = []
    with transaction.atomic():
        GazetteerEntry.objects.filter(source=SYNONYM_SOURCE).delete()
        for synonym in StreetSynonym.objects.filter(active=True):
            key, street_type = split_street_name(synonym.name)
            target, target_type = split_street_name(synonym.street)
            if not key or not target or key == target:
                continue  # the normalisation already finds it under the street's own name
            streets = GazetteerEntry.objects.filter(kind=GazetteerEntry.Kind.STREET, normalized=target, street_key="")
            if target_type and streets.filter(street_type=target_type).exists():
                streets = streets.filter(street_type=target_type)  # `X даңғылы`, not `X көшесі`
            for street in streets:
                rows.append(GazetteerEntry(
                    kind=GazetteerEntry.Kind.STREET, source=SYNONYM_SOURCE, label=f"{street.label} ({synonym.name})"[:300],
                    normalized=key, street_type=street_type, street_key=target, importance=street.importance,
                    location=street.location,
                ))  # fmt: skip
        GazetteerEntry.objects.bulk_create(rows)
    if analyze:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {TABLE}")
    return len(rows)
