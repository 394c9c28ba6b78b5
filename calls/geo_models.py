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
"""

from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GinIndex

__all__ = ["GazetteerEntry"]


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
