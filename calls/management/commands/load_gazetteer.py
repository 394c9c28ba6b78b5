"""`python manage.py load_gazetteer FILE [FILE …]`: load gazetteer files, replacing earlier loads.

A file is this project's gazetteer format (.json or .json.gz, see calls/data/README.md)
or a GeoJSON FeatureCollection of named places. Loading the same source again replaces
its rows in one transaction, so the command is safe to repeat.
"""

import time

from django.core.management.base import BaseCommand, CommandError

from calls.gazetteer_load import load_gazetteer_file


class Command(BaseCommand):
    help = "Load a gazetteer file (streets, intersections, places) into the database, replacing its source."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--source", help="Name the rows' source (default: the file's own, else its name).")

    def handle(self, *args, files, source, **options):
        for path in files:
            started = time.monotonic()
            try:
                loaded = load_gazetteer_file(path, source=source)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CommandError(f"{path}: {exc}") from exc
            counts = ", ".join(f"{n} {kind}" for kind, n in sorted(loaded["counts"].items())) or "nothing"
            self.stdout.write(f"{path}: source {loaded['source']!r}: {counts} in {time.monotonic() - started:.1f} s")
