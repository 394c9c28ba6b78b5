"""The JSON body parser of every API view (settings.REST_FRAMEWORK). Apart from core.api:
DRF imports its default parser classes while rest_framework.views loads, which core.api
itself imports."""

import re

from rest_framework import parsers
from rest_framework.exceptions import ValidationError

# PostgreSQL text cannot hold NUL, and UTF-8 cannot encode a lone surrogate ("\ud800" is
# valid JSON): either would reach the database as a 500 from whichever field forgot to
# check (a slug looked up as is, a free text). Refused once, here, for every field.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_TEXT = "Text may not contain NUL (\\u0000) or unpaired surrogate (\\ud800-\\udfff) characters."


def _unstorable_path(value, path):
    if isinstance(value, str):
        return path if _UNSTORABLE.search(value) else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        here = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and _unstorable_path(key, here):
            return here
        found = _unstorable_path(item, here)
        if found:
            return found
    return None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing text PostgreSQL cannot store: 400 naming the field."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        path = _unstorable_path(data, "")
        if path is not None:
            raise ValidationError({path or "non_field_errors": [UNSTORABLE_TEXT]})
        return data
