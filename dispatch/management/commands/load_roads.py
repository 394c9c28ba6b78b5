"""python manage.py load_roads FILE: replace the road graph with the drivable ways of an
OSM extract (.osm.pbf, .osm, .osm.bz2) or with a graph file this project ships
(.json.gz, see ops/management/commands/build_demo_roads.py). Dispatch keeps working during the load: the
new graph is built in new tables and swapped in at the end (dispatch/roads.py)."""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from dispatch import roads

OSM_ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0 (https://www.openstreetmap.org/copyright)"


class Command(BaseCommand):
    help = "Replace the road graph used for dispatch by driving time with an OSM extract."

    def add_arguments(self, parser):
        parser.add_argument("file", help="an .osm.pbf / .osm extract, or a shipped .json.gz graph")
        parser.add_argument("--attribution", default=OSM_ATTRIBUTION)

    def handle(self, *args, file, attribution, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        started = time.monotonic()
        try:
            if path.name.endswith(".json.gz"):
                nodes, edges, attribution = roads.read_graph_file(path)
            else:
                nodes, edges = roads.build_graph(roads.read_osm(path))
        except (RuntimeError, ValueError, OSError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        if not edges:
            raise CommandError(f"{path} has no drivable roads; the current graph is kept")
        n_nodes, n_edges = roads.replace_graph(nodes, edges, source=path.name, attribution=attribution)
        self.stdout.write(f"road graph from {path.name}: {n_nodes} nodes, {n_edges} edges "
                          f"in {time.monotonic() - started:.1f} s")
