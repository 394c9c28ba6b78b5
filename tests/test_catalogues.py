"""The translation catalogues (issue 21): every message of locale/{ru,kk,en} is translated,
none is left fuzzy, and the committed .mo files are compiled from the .po files as they
are. Running the project needs no gettext (the .mo files are in the repository: a fresh
clone and the Procfile's processes read them as they are), so a .po edited without
`compilemessages` would silently leave the pages in the old words; this catches it."""

import ast
import gettext
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[1] / "locale"
FILES = [(lang, domain) for lang in ("ru", "kk", "en") for domain in ("django", "djangojs")]


def entries(path):
    """(msgid, msgid_plural, msgstr, plural msgstrs, flags) of each entry of a .po file as
    makemessages writes it (entries apart by blank lines); a msgctxt is joined to its msgid
    with EOT, as gettext's catalogue keys are."""
    out = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields, flags, key = {}, set(), None
        for line in block.splitlines():
            if line.startswith("#,"):
                flags |= {f.strip() for f in line[2:].split(",")}
            elif line.startswith("#~"):
                raise AssertionError(f"{path}: an obsolete entry is left in: {line}")
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                fields[key] += ast.literal_eval(line)
            else:
                key, _space, value = line.partition(" ")
                fields[key] = ast.literal_eval(value)
        if "msgid" not in fields:
            continue
        msgid = fields["msgid"] if "msgctxt" not in fields else f"{fields['msgctxt']}\x04{fields['msgid']}"
        plurals = tuple(fields[k] for k in sorted(fields) if k.startswith("msgstr["))
        out.append((msgid, fields.get("msgid_plural"), fields.get("msgstr"), plurals, frozenset(flags)))
    return out


@pytest.mark.parametrize("lang, domain", FILES)
def test_catalogue_is_complete_and_compiled(lang, domain):
    po = LOCALE / lang / "LC_MESSAGES" / f"{domain}.po"
    with open(po.with_suffix(".mo"), "rb") as mo_file:
        mo = gettext.GNUTranslations(mo_file)
    messages = [e for e in entries(po) if e[0]]  # the header has an empty msgid
    assert len(messages) > 100
    for msgid, plural, msgstr, plurals, flags in messages:
        assert "fuzzy" not in flags, (lang, domain, msgid)
        if plural is None:
            assert msgstr, f"{lang}/{domain}: no translation of {msgid!r}"
            assert mo.gettext(msgid) == msgstr, f"{lang}/{domain}: the .mo is older than the .po for {msgid!r}"
        else:
            assert all(plurals), (lang, domain, msgid)
            assert mo.ngettext(msgid, plural, 1) == plurals[0], (lang, domain, msgid)
    # Nothing in the .mo that the .po no longer has (a message removed from the code).
    assert set(mo._catalog) - {""} - {m[0] for m in messages} - {(m[0], i) for m in messages for i in range(4)} == set()
