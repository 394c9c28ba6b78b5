from django.contrib.postgres.operations import CreateExtension
from django.db import migrations, models

# The empty road graph (dispatch/roads.py owns these tables: load_roads replaces them by
# renaming freshly loaded ones over them). Empty, dispatch ranks units by air as before.
ROAD_TABLES = """
CREATE TABLE IF NOT EXISTS road_edge (
    id bigint PRIMARY KEY, source bigint NOT NULL, target bigint NOT NULL,
    length_m double precision NOT NULL, road_class text NOT NULL, oneway boolean NOT NULL,
    maxspeed_kmh real, cost_s double precision NOT NULL, reverse_cost_s double precision NOT NULL,
    name text NOT NULL DEFAULT '', osm_id bigint, geom geometry(LineString, 4326) NOT NULL
);
CREATE INDEX IF NOT EXISTS road_edge_geom ON road_edge USING gist (geom);
CREATE TABLE IF NOT EXISTS road_node (id bigint PRIMARY KEY, geom geometry(Point, 4326) NOT NULL);
CREATE INDEX IF NOT EXISTS road_node_geom ON road_node USING gist (geom);
CREATE TABLE IF NOT EXISTS road_graph (
    source text NOT NULL, attribution text NOT NULL, loaded_at timestamptz NOT NULL,
    nodes integer NOT NULL, edges integer NOT NULL
);
"""


class Migration(migrations.Migration):

    dependencies = [
        ('dispatch', '0009_journal_to_core'),
    ]

    operations = [
        # Created by the admin beforehand (scripts/bootstrap.sh): pgrouting is not a trusted
        # extension and the app role is not a superuser; this is then a no-op.
        CreateExtension("pgrouting"),
        migrations.RunSQL(ROAD_TABLES, "DROP TABLE IF EXISTS road_edge, road_node, road_graph"),
        migrations.AddField(
            model_name='assignment',
            name='eta_s',
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='assignment',
            name='route_m',
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='assignment',
            name='basis',
            field=models.CharField(blank=True, choices=[('road', 'road'), ('straight_line', 'straight_line')],
                                   default='', max_length=16),
        ),
    ]
