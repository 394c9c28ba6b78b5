"""How often the gazetteer's top answer is right, for the ways operators type a location.

    DEBUG=true .venv/bin/python bench/geocode_accuracy.py [--streets 300] [--corners 200] [--seed 112]
        [--kazakh 100] [--data data] [--failures 5] [--no-bias]

Runs against the configured database (the dev database `dispatch` by default) and loads
`calls/data/astana_gazetteer.json.gz` first if the gazetteer is empty. The sample is drawn
from the raw OpenStreetMap extracts (`--data`, the repository's `data/` folder by default;
`.json.gz` or `.json`), not from the derived file, and the query variants are written here
without the product's normaliser, so the figures do not grade the normaliser against itself.

The bias scenario repeats the ambiguous street queries (text that fits two or more streets)
with what the operator has besides the text: the caller's AML point (a point of the true
street moved up to AML_JITTER_M in a random direction, passed as `near`) or the map view
(a BIAS_VIEW_KM rectangle with a point of the true street somewhere inside, passed as
`view`). A control passes a view of a random other part of the city with every street
query: bias must not spoil answers the text alone got right. `--no-bias` (or a geocoder
without these parameters) leaves the scenario out.

A street answer is right when the top result is within 150 m of any point (OSM node) of
that street; a corner answer when it is within 150 m of any point where the two streets
cross. Latency is the wall time of `geocode()` as the API calls it (one transaction,
a few queries, no HTTP).
"""

import argparse
import gzip
import inspect
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
# The genitive a Kazakh corner puts the second street in (`X көшесі мен Y даңғылының қиылысы`).
KAZAKH_GENITIVE = {"ул": "көшесінің", "пр": "даңғылының", "пер": "тұйығының", "ш": "тас жолының",
                   "бр": "бульварының", "мкр": "шағын ауданының"}  # fmt: skip
ABBREVIATION = {"ул": "ул.", "пр": "пр.", "пер": "пер.", "ш": "ш.", "бр": "б-р", "мкр": "мкр."}
KAZAKH_LETTERS = str.maketrans("әғқңөұүһіӘҒҚҢӨҰҮҺІ", "агкноуухиАГКНОУУХИ")

STREET_VARIANTS = ["exact", "russian", "kazakh", "abbreviated", "lower case", "no street word", "ru keyboard",
                   "ru kbd, no word"]  # fmt: skip
CORNER_VARIANTS = ["X и Y", "X / Y", "угол X и Y", "full names X / Y", "X - Y", "X, Y", "пересечение X и Y",
                   "X мен Y қиылысы", "kk: X көшесі мен Y даңғылының", "X and Y"]  # fmt: skip
AML_JITTER_M = 500
BIAS_VIEW_KM = (5.0, 3.0)  # width, height: a 1280 × 800 px map at zoom 14 in Astana


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
    (ka, ca), (kb, cb) = street_parts(a), street_parts(b)
    return {"X и Y": f"{ca} и {cb}", "X / Y": f"{ca} / {cb}", "угол X и Y": f"угол {ca} и {cb}",
            "full names X / Y": f"{a} / {b}", "X - Y": f"{ca} - {cb}", "X, Y": f"{ca}, {cb}",
            "пересечение X и Y": f"пересечение {ca} и {cb}", "X мен Y қиылысы": f"{ca} мен {cb} қиылысы",
            "kk: X көшесі мен Y даңғылының": f"{ca} {KAZAKH[ka]} мен {cb} {KAZAKH_GENITIVE[kb]} қиылысы",
            "X and Y": f"{ca} and {cb}"}  # fmt: skip


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


def read_json(data_dir, name):
    """`name` from `data_dir`, compressed (`name.gz`, as the repository ships it) or not."""
    path = data_dir / name
    if not path.exists() and path.with_name(name + ".gz").exists():
        with gzip.open(path.with_name(name + ".gz"), "rt", encoding="utf-8") as fh:
            return json.load(fh)
    return json.loads(path.read_text(encoding="utf-8"))


def sample(data_dir, n_streets, n_corners, n_kazakh, seed):
    streets = read_json(data_dir, "astana_streets.json")["streets"]
    crossings = read_json(data_dir, "astana_intersections.json")
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
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--streets", type=int, default=300)
    parser.add_argument("--corners", type=int, default=200)
    parser.add_argument("--kazakh", type=int, default=100, help="extra streets with Kazakh letters (keyboard variants)")
    parser.add_argument("--seed", type=int, default=112)
    parser.add_argument("--failures", type=int, default=0, help="print this many failures per variant")
    parser.add_argument("--no-bias", action="store_true", help="leave out the bias scenario")
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

    if args.no_bias or not {"near", "view"} <= set(inspect.signature(geocode).parameters):
        print("\nbias scenario: left out (--no-bias, or this geocoder takes no near/view)")
        return
    bias_scenario([c for c in cases if c[0] in STREET_VARIANTS], all_points, args.seed, args.failures)


def moved(point, metres, rng):
    """`point` moved up to `metres` in a random direction (uniform over the disc)."""
    r, a = metres * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    return (
        point[0] + r * math.cos(a) / 111_320,
        point[1] + r * math.sin(a) / (111_320 * math.cos(math.radians(point[0]))),
    )


def view_around(point, rng):
    """A BIAS_VIEW_KM rectangle (minlon, minlat, maxlon, maxlat) with `point` somewhere inside."""
    w = BIAS_VIEW_KM[0] * 1000 / (111_320 * math.cos(math.radians(point[0])))
    h = BIAS_VIEW_KM[1] * 1000 / 111_320
    west, south = point[1] - rng.uniform(0.1, 0.9) * w, point[0] - rng.uniform(0.1, 0.9) * h
    return (west, south, west + w, south + h)


def bias_scenario(street_cases, all_points, seed, failures):
    """Top-1 of the same street queries without and with a near point / map view, interleaved."""
    rng = random.Random(seed + 1)
    city = [p for pts in all_points.values() for p in pts]
    ambiguous = [c for c in street_cases if c[4]]
    scenarios = [
        (
            "ambiguous, AML point <= 500 m",
            ambiguous,
            lambda truth: {"near": moved(rng.choice(truth), AML_JITTER_M, rng)},
        ),
        ("ambiguous, map view 5 x 3 km", ambiguous, lambda truth: {"view": view_around(rng.choice(truth), rng)}),
        (
            "every street query, view elsewhere",
            street_cases,
            lambda truth: {"view": view_around(elsewhere(truth), rng)},
        ),
    ]

    def elsewhere(truth):
        # A part of the city at least 3 km from the street: the operator is looking elsewhere.
        for _ in range(50):
            p = rng.choice(city)
            if nearest(p, truth) > 3000:
                return p
        return p

    print(f"\nbias scenario (seed {seed + 1}; right = top result within {RIGHT_WITHIN_M} m, as above)\n")
    header = f"{'scenario':<36} {'n':>5} {'text only':>10} {'with bias':>10} {'p50 ms':>7} {'p99 ms':>7}"
    print(header)
    print("-" * len(header))
    for label, chosen, extra in scenarios:
        plain = biased = 0
        ms, lost = [], []
        for _variant, query, truth, what, _ambiguous in chosen:
            kwargs = extra(truth)
            # Interleaved: the same query without and with the bias, back to back.
            first = geocode(query, limit=1)
            started = time.perf_counter()
            second = geocode(query, limit=1, **kwargs)
            ms.append((time.perf_counter() - started) * 1000)
            ok1 = bool(first) and nearest((first[0]["lat"], first[0]["lon"]), truth) <= RIGHT_WITHIN_M
            ok2 = bool(second) and nearest((second[0]["lat"], second[0]["lon"]), truth) <= RIGHT_WITHIN_M
            plain += ok1
            biased += ok2
            if ok1 and not ok2:
                lost.append(f"{query!r} [{what}] {kwargs} → {second[0]['label'] if second else 'nothing'}")
        n = len(chosen) or 1
        print(f"{label:<36} {len(chosen):>5} {100 * plain / n:>9.1f}% {100 * biased / n:>9.1f}%"
              f" {statistics.median(ms or [0]):>7.1f} {percentile(ms or [0], 0.99):>7.1f}")  # fmt: skip
        for line in lost[:failures]:
            print(f"  right without, wrong with: {line}")


if __name__ == "__main__":
    main()
