"""The gazetteer: streets, intersections, addresses and named places (SPEC "Where the caller is").

One table for every kind, because an operator's query does not say which kind it names:
one GIN trigram index over `normalized` (see `calls.gazetteer.normalize`) answers a name
of any kind, and `label` is only shown.

A street is one row: `location` is a representative point (the street's OSM node nearest
its centroid, so it lies on the street) and `geom` is the whole street as a
MultiLineString for reverse geocoding. The source data holds each street as one list of
points concatenated from its OSM ways, so the build script cuts it into lines where two
consecutive points are too far apart to be one segment. One row per street (rather than
one per segment) keeps the search answering "the street" once; the GiST index on `geom`
still makes the nearest-street lookup a KNN scan.

An intersection is one row per place where two streets cross (a dual carriageway crossing
counts once), with the search keys of both streets in `street_a` < `street_b`, so a
corner query looks both streets up and then the intersection by exact keys.

A street synonym (`StreetSynonym`: `проспект Победы` for `Жеңіс даңғылы`, an old name, a
Russian spelling of a Kazakh name) is kept in the admin and indexed as extra street rows
(source `synonyms`, `street_key` = the key of the street it names, no geometry of its
own), so the same trigram search finds it and a corner through it reaches the street's
intersections.
"""

from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GinIndex

__all__ = ["GazetteerEntry", "StreetSynonym"]


class GazetteerEntry(models.Model):
    class Kind(models.TextChoices):
        ADDRESS = "address"
        STREET = "street"
        INTERSECTION = "intersection"
        PLACE = "place"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The file a row was loaded from; `load_gazetteer` replaces all rows of one source.
    source = models.CharField(max_length=64)
    label = models.CharField(max_length=300)
    # The search key. A place with several names has one row per name, same label. For an
    # intersection it is both streets' keys, for reading; corners are searched by street_a/_b.
    normalized = models.CharField(max_length=300)
    # The canonical street word the name carried (`пр`, `ул`, `пер` …), ranks `пр. X` above `X переулок`.
    street_type = models.CharField(max_length=16, blank=True, default="")
    street_a = models.CharField(max_length=300, blank=True, default="")
    street_b = models.CharField(max_length=300, blank=True, default="")
    # 0..1, from the street's length: among equal matches the avenue comes before the lane.
    importance = models.FloatField(default=0.0)
    # On a row indexed from a StreetSynonym: the key of the street it is another name of, so
    # a corner said with the synonym finds the intersections recorded under that key.
    street_key = models.CharField(max_length=300, blank=True, default="")
    location = models.PointField(geography=True, srid=4326)
    geom = models.MultiLineStringField(geography=True, srid=4326, null=True, blank=True)

    class Meta:
        app_label = "calls"
        verbose_name_plural = "gazetteer entries"
        indexes = [
            # Intersections are found through their streets' keys, so only the rest is searched by
            # name. No fastupdate: the table changes only on a load, and a GIN pending list left by
            # a bulk insert made every search ~10x slower until the next vacuum.
            GinIndex(
                fields=["normalized"],
                name="gazetteer_normalized_trgm",
                opclasses=["gin_trgm_ops"],
                condition=~models.Q(kind="intersection"),
                fastupdate=False,
            ),
            models.Index(fields=["street_a", "street_b"], name="gazetteer_corner_ab"),
            models.Index(fields=["street_b"], name="gazetteer_corner_b"),
            models.Index(fields=["source"], name="gazetteer_source"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["address", "street", "intersection", "place"]), name="gazetteer_kind_valid"
            ),
        ]

    def __str__(self):
        return f"{self.kind}: {self.label}"


class StreetSynonym(models.Model):
    """Another name callers use for a street of the gazetteer, edited in the admin.

    `street` is the street as the gazetteer names it (any spelling of it: it is compared
    by search key, and a street word in it picks between `X даңғылы` and `X көшесі`). Rows
    shipped with the data (`source` other than `admin`) are added by `load_gazetteer` when
    missing and never changed by it afterwards: an operator's edit or `active = False` stays.
    """

    class Kind(models.TextChoices):
        RUSSIAN = "russian", "Russian name of a street signed in Kazakh"
        OLD = "old", "Old name"
        VARIANT = "variant", "Another spelling or form"

    name = models.CharField(max_length=200, help_text="As callers say it, e.g. «проспект Победы».")
    street = models.CharField(max_length=300, help_text="The street as the gazetteer names it, e.g. «Жеңіс даңғылы».")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.RUSSIAN)
    source = models.CharField(max_length=64, default="admin", help_text="admin, or the data file that seeded it.")
    note = models.CharField(max_length=300, blank=True, default="")
    active = models.BooleanField(default=True)

    class Meta:
        app_label = "calls"
        ordering = ["street", "name"]
        constraints = [models.UniqueConstraint(fields=["name", "street"], name="street_synonym_unique")]

    def __str__(self):
        return f"{self.name} → {self.street}"
