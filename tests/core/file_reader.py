"""A journal reader for the live test: appends the ids it gets to READER_TEST_FILE.

Loaded in a real worker through JOURNAL_READER_MODULES, as a centre's own module would be."""

import os

from core import readers


def _append(events):
    with open(os.environ["READER_TEST_FILE"], "a") as out:
        for event in events:
            out.write(f"{event.id} {event.type}\n")


readers.register("test-file", _append, types={"call.created", "call.updated"}, start="beginning")
