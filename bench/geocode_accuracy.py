"""How often the gazetteer's top answer is right, for the ways operators type a location.

    DEBUG=true .venv/bin/python bench/geocode_accuracy.py [--streets 300] [--corners 200] [--seed 112]
        [--kazakh 100] [--data ../shared/data] [--failures 5]

Runs against the configured database (the dev database `dispatch` by default) and loads
`calls/data/astana_gazetteer.json.gz` first if the gazetteer is empty. The sample is drawn
from the raw OpenStreetMap extracts (`--data`), not from the derived file, and the query
variants are written here without the product's normaliser, so the figures do not grade
the normaliser against itself.

A street answer is right when the top result is within 150 m of any point (OSM node) of
that street; a corner answer when it is within 150 m of any point where the two streets
cross. Latency is the wall time of `geocode()` as the API calls it (one transaction,
a few queries, no HTTP).
"""

import argparse
import json
import math
import os
import platform
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from calls.gazetteer import geocode  # noqa: E402
from calls.gazetteer_load import load_gazetteer_file  # noqa: E402
from calls.models import GazetteerEntry  # noqa: E402

RIGHT_WITHIN_M = 150
SHIPPED = ROOT / "calls" / "data" / "astana_gazetteer.json.gz"

# The street words a name may carry, by kind, in the forms the variants use. Written out
# here on purpose rather than taken from calls.gazetteer.
STREET_WORDS = [
    # (kind, regex matching the word in a source name)
    ("пр", r"проспект|даңғылы|Проспект"),
    ("ш", r"шоссе|тас жолы|трасса"),
    ("пер", r"переулок|тұйығы|тұйық|тупик"),
    ("бр", r"бульвар|бульвары"),
    ("мкр", r"микрорайон|шағын ауданы"),
    ("ул", r"улица|Улица|көшесі|көше"),
]
RUSSIAN = {"ул": "улица", "пр": "проспект", "пер": "переулок", "ш": "шоссе", "бр": "бульвар", "мкр": "микрорайон"}
KAZAKH = {"ул": "көшесі", "пр": "даңғылы", "пер": "тұйығы", "ш": "тас жолы", "бр": "бульвары", "мкр": "шағын ауданы"}
ABBREVIATION = {"ул": "ул.", "пр": "пр.", "пер": "пер.", "ш": "ш.", "бр": "б-р", "мкр": "мкр."}
KAZAKH_LETTERS = str.maketrans("әғқңөұүһіӘҒҚҢӨҰҮҺІ", "агкноуухиАГКНОУУХИ")

STREET_VARIANTS = ["exact", "russian", "kazakh", "abbreviated", "lower case", "no street word", "ru keyboard",
                   "ru kbd, no word"]  # fmt: skip
CORNER_VARIANTS = ["X и Y", "X / Y", "угол X и Y", "full names X / Y"]


def street_parts(name):
    """(kind, name without its street word) — `Қабанбай Батыр даңғылы` → ("пр", "Қабанбай Батыр")."""
    for kind, words in STREET_WORDS:
        m = re.search(rf"(?:^|\s)({words})(?:\s|$)", name)
        if m:
            core = (name[: m.start(1)] + name[m.end(1) :]).strip()
            core = re.sub(r"^(\d+)-(?:я|й|ая|шы|ші)$", r"\1", core)  # `101-я улица` → `101`
            if core:
                return kind, re.sub(r"\s+", " ", core)
    return "ул", name


def street_queries(name):
    kind, core = street_parts(name)
    queries = {
        "exact": name,
        "russian": f"{RUSSIAN[kind]} {core}",
        "kazakh": f"{core} {KAZAKH[kind]}",
        "abbreviated": f"{ABBREVIATION[kind]} {core}",
        "lower case": name.lower(),
        "no street word": core,
    }
    if core.translate(KAZAKH_LETTERS) != core:  # only names with Kazakh letters
        queries["ru keyboard"] = name.translate(KAZAKH_LETTERS)
        queries["ru kbd, no word"] = core.translate(KAZAKH_LETTERS)
    return queries


def corner_queries(a, b):
    ca, cb = street_parts(a)[1], street_parts(b)[1]
    return {"X и Y": f"{ca} и {cb}", "X / Y": f"{ca} / {cb}", "угол X и Y": f"угол {ca} и {cb}",
            "full names X / Y": f"{a} / {b}"}  # fmt: skip


def metres(a, b):
    """Haversine distance between (lat, lon) pairs."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def nearest(point, truth):
    return min(metres(point, t) for t in truth)


def bench_key(name):
    """The bench's own idea of "the same name": no street word, lower case, Kazakh letters folded."""
    return street_parts(name)[1].lower().translate(KAZAKH_LETTERS)


def sample(data_dir, n_streets, n_corners, n_kazakh, seed):
    streets = json.loads((data_dir / "astana_streets.json").read_text(encoding="utf-8"))["streets"]
    crossings = json.loads((data_dir / "astana_intersections.json").read_text(encoding="utf-8"))
    points = {s["name"]: [(p["lat"], p["lng"]) for p in s["points"]] for s in streets if s["name"].strip()}
    pairs = {}
    for street, items in crossings.items():
        for c in items:
            if street in points and c["crossroad"] in points and street != c["crossroad"]:
                pairs.setdefault(tuple(sorted((street, c["crossroad"]))), set()).add((c["lat"], c["lng"]))
    # Two names of one street meeting where the name changes are no corner (`улица Кенесары`/`Кенесары көшесі`).
    pairs = {p: pts for p, pts in pairs.items() if bench_key(p[0]) != bench_key(p[1])}
    rng = random.Random(seed)
    street_sample = rng.sample(sorted(points), n_streets)
    corner_sample = rng.sample(sorted(pairs), n_corners)
    # Few names carry Kazakh letters; more of them, for the Russian-keyboard variants only.
    kazakh = [n for n in sorted(points) if n not in street_sample and n.translate(KAZAKH_LETTERS) != n]
    kazakh_sample = rng.sample(kazakh, min(n_kazakh, len(kazakh)))
    return (points, [(n, points[n]) for n in street_sample], [(p, sorted(pairs[p])) for p in corner_sample],
            [(n, points[n]) for n in kazakh_sample])  # fmt: skip


def has_twin(name, names, typed):
    """Another street has the same name (and the same street word, if the query carries one)."""
    kind, key = street_parts(name)[0], bench_key(name)
    return any(o != name and bench_key(o) == key and (not typed or street_parts(o)[0] == kind) for o in names)


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--streets", type=int, default=300)
    parser.add_argument("--corners", type=int, default=200)
    parser.add_argument("--kazakh", type=int, default=100, help="extra streets with Kazakh letters (keyboard variants)")
    parser.add_argument("--seed", type=int, default=112)
    parser.add_argument("--failures", type=int, default=0, help="print this many failures per variant")
    args = parser.parse_args()

    if not GazetteerEntry.objects.exists():
        started = time.monotonic()
        loaded = load_gazetteer_file(SHIPPED)
        print(f"loaded {SHIPPED.name}: {loaded['counts']} in {time.monotonic() - started:.1f} s")

    all_points, streets, corners, kazakh = sample(args.data, args.streets, args.corners, args.kazakh, args.seed)
    cases = []  # (variant, query, truth points, what, ambiguous)
    for name, pts in streets:
        typed, untyped = has_twin(name, all_points, True), has_twin(name, all_points, False)
        for variant, query in street_queries(name).items():
            cases.append(
                (variant, query, pts, name, untyped if variant in ("no street word", "ru kbd, no word") else typed)
            )
    for name, pts in kazakh:
        typed, untyped = has_twin(name, all_points, True), has_twin(name, all_points, False)
        for variant, query in street_queries(name).items():
            if variant.startswith("ru k"):
                cases.append((variant, query, pts, name, untyped if variant == "ru kbd, no word" else typed))
    for (a, b), pts in corners:
        for variant, query in corner_queries(a, b).items():
            cases.append((variant, query, pts, f"{a} × {b}", False))

    geocode("прогрев")  # the first query pays for the connection
    stats = {}
    for variant, query, truth, what, ambiguous in cases:
        started = time.perf_counter()
        results = geocode(query, limit=5)
        elapsed = (time.perf_counter() - started) * 1000
        s = stats.setdefault(variant, {"n": 0, "top1": 0, "top5": 0, "ms": [], "failures": [], "amb": 0, "amb1": 0})
        s["n"] += 1
        s["amb"] += ambiguous
        s["ms"].append(elapsed)
        distances = [nearest((r["lat"], r["lon"]), truth) for r in results]
        if distances and distances[0] <= RIGHT_WITHIN_M:
            s["top1"] += 1
            s["amb1"] += ambiguous
        else:
            top = f"{results[0]['label']} ({distances[0]:.0f} m)" if results else "nothing"
            s["failures"].append(f"{query!r} [{what}] → {top}" + (" (ambiguous)" if ambiguous else ""))
        if any(d <= RIGHT_WITHIN_M for d in distances):
            s["top5"] += 1

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        pg = cursor.fetchone()[0].split(" on ")[0]
    counts = dict(GazetteerEntry.objects.values_list("kind").annotate(n=django.db.models.Count("id")))
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()},"
          f" {pg}; gazetteer {counts}")  # fmt: skip
    print(f"sample: {len(streets)} streets (+{len(kazakh)} with Kazakh letters for the keyboard variants), "
          f"{len(corners)} corners, seed {args.seed}; right = top result within {RIGHT_WITHIN_M} m of the street / "
          "crossing\n")  # fmt: skip
    header = (f"{'variant':<18} {'n':>5} {'top-1':>7} {'top-5':>7} {'ambig.':>6} {'top-1 unambig.':>14}"
              f" {'p50 ms':>7} {'p99 ms':>7}")  # fmt: skip
    print(header)
    print("-" * len(header))

    def row(label, rows):
        n, top1, top5 = sum(r["n"] for r in rows), sum(r["top1"] for r in rows), sum(r["top5"] for r in rows)
        amb, amb1, ms = sum(r["amb"] for r in rows), sum(r["amb1"] for r in rows), [m for r in rows for m in r["ms"]]
        unamb = f"{100 * (top1 - amb1) / (n - amb):.1f}%" if n > amb else "-"
        print(f"{label:<18} {n:>5} {100 * top1 / n:>6.1f}% {100 * top5 / n:>6.1f}% {amb:>6} {unamb:>14}"
              f" {statistics.median(ms):>7.1f} {percentile(ms, 0.99):>7.1f}")  # fmt: skip

    for variant in STREET_VARIANTS + CORNER_VARIANTS:
        if variant in stats:
            row(variant, [stats[variant]])
    print("-" * len(header))
    row("all", list(stats.values()))
    print(
        "\nambig. = street queries whose text fits two or more streets of the data: the same name up to case and"
        " Kazakh letters (and the same street word, when the query has one), e.g. `улица Сункар` and `Сұңқар"
        " көшесі` 6.7 km apart. The right one is then in the top 5 but top-1 is a guess."
    )
    if args.failures:
        for variant in STREET_VARIANTS + CORNER_VARIANTS:
            for line in stats.get(variant, {}).get("failures", [])[: args.failures]:
                print(f"  {variant}: {line}")


if __name__ == "__main__":
    main()
