"""Finding English left in a Russian or Kazakh text (issue 21's proof).

A word is three or more Latin letters in a row. What may stay Latin in any language:
proper names and codes that read the same everywhere (the product's and formats' names,
acronyms, units' capabilities), plus whatever a test itself typed (an operator's note,
a callsign, a username: pass them as `extra`)."""

import re

WORD = re.compile(r"[A-Za-z]{3,}")
ALLOWED = {
    # names of things and formats, the same in every language
    "API", "CSV", "JSON", "JavaScript", "NENA", "EIDO", "AML", "SMS", "eCall", "Wi", "QR", "ETA", "OpenStreetMap", "Leaflet",
    "UTC",
    # units' capabilities: codes, typed and shown as they are (also upper-case)
    "ALS", "BLS", "als", "bls", "ladder",
    # keys as printed on the keyboard (the console's shortcuts)
    "Ctrl", "Enter", "Esc", "Shift", "Alt", "Tab",
}


def english_words(text, extra=()):
    allowed = ALLOWED | set(extra)
    return sorted({w for w in WORD.findall(text) if w not in allowed})
